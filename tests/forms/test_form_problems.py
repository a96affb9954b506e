"""Broken forms of the kinds designers really make: every error is a problem on its sheet, row and column.

The structured list (forms/problems.py) is what the API sends in a JSON problem's details and what the CLI
prints; each test reads it as a designer would, looking for the cell to fix.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from forms.build import FormBuildError, compile_xlsform
from forms.locations import MEDIA_DIR, SOURCES_DIR
from forms.problems import FormProblem
from server.cli import main
from sync.intake.form_checks import check_form, folder_columns

SETTINGS = """
| settings |         |         |
|          | form_id | version |
|          | broken  | 1       |
"""


def refused(tmp_path: Path, survey: str, settings: str = SETTINGS, *, name: str = "broken.md") -> FormBuildError:
    source = tmp_path / name
    source.write_text(survey + settings, encoding="utf-8")
    with pytest.raises(FormBuildError) as caught:
        compile_xlsform(source)
    return caught.value


def places(error: FormBuildError) -> list[tuple[str | None, int | None, str | None, str | None]]:
    return [(p.sheet, p.row, p.column, p.question) for p in error.problems]


def test_a_constraint_with_a_syntax_error_names_its_row_and_column(tmp_path: Path) -> None:
    error = refused(
        tmp_path,
        """
| survey |         |      |       |                          |
|        | type    | name | label | constraint               |
|        | text    | who  | Who   |                          |
|        | integer | age  | Age   | . >= 0 and and . < 120   |
""",
    )
    assert places(error) == [("survey", 3, "constraint", "age")]
    assert error.problems[0].kind == "error"
    assert "invalid constraint expression" in error.problems[0].message


def test_a_duplicated_name_names_both_rows(tmp_path: Path) -> None:
    error = refused(
        tmp_path,
        """
| survey |         |      |           |
|        | type    | name | label     |
|        | integer | age  | Age       |
|        | text    | job  | Job       |
|        | integer | age  | Age again |
""",
    )
    assert places(error) == [("survey", 4, "name", "age"), ("survey", 2, "name", "age")]
    assert error.problems[0].message.endswith("It is first used in row 2.")
    assert error.problems[1].message == "The name 'age' is used again in row 4."


def test_a_choice_list_that_does_not_exist_names_the_question(tmp_path: Path) -> None:
    error = refused(
        tmp_path,
        """
| survey |                    |        |        |
|        | type               | name   | label  |
|        | integer            | age    | Age    |
|        | select_one colours | colour | Colour |
| choices |           |      |       |
|         | list_name | name | label |
|         | yn        | 1    | Yes   |
""",
    )
    assert places(error) == [("survey", 3, "type", "colour")]
    assert "colours" in error.problems[0].message


def test_a_reference_to_a_missing_question_names_the_cell(tmp_path: Path) -> None:
    error = refused(
        tmp_path,
        """
| survey |         |      |       |              |
|        | type    | name | label | relevant     |
|        | integer | age  | Age   |              |
|        | text    | job  | Job   | ${agee} > 16 |
""",
    )
    assert places(error) == [("survey", 3, "relevant", "job")]
    assert "'agee'" in error.problems[0].message


def test_a_calculation_loop_names_every_question_in_it(tmp_path: Path) -> None:
    error = refused(
        tmp_path,
        """
| survey |           |       |       |              |
|        | type      | name  | label | calculation  |
|        | integer   | c     | C     |              |
|        | calculate | a     |       | ${b} + 1     |
|        | calculate | b     |       | ${a} * ${c}  |
""",
    )
    assert sorted(places(error)) == [("survey", 3, "calculation", "a"), ("survey", 4, "calculation", "b")]
    assert all("part of the loop" in p.message for p in error.problems)


@pytest.mark.parametrize(
    ("version", "words"),
    [("2026-12-01 00:00:00", "Excel may have turned the cell into a date"), ("v1/2", "may only contain")],
)
def test_a_bad_version_names_the_settings_cell(tmp_path: Path, version: str, words: str) -> None:
    settings = f"""
| settings |         |           |
|          | form_id | version   |
|          | broken  | {version} |
"""
    error = refused(tmp_path, "\n| survey | | | |\n| | type | name | label |\n| | integer | age | Age |\n", settings)
    assert places(error) == [("settings", 2, "version", None)]
    assert words in error.problems[0].message


def test_a_warning_is_a_problem_of_kind_warning_on_its_row(tmp_path: Path) -> None:
    source = tmp_path / "warns.md"
    source.write_text(
        """
| survey |              |        |       |
|        | type         | name   | label |
|        | begin repeat | people |       |
|        | text         | pname  | Name  |
|        | end repeat   |        |       |
"""
        + SETTINGS,
        encoding="utf-8",
    )
    compiled = compile_xlsform(source)
    assert [(p.kind, p.sheet, p.row) for p in compiled.problems] == [("warning", "survey", 2)]
    assert compiled.problems[0].as_dict().keys() == {"sheet", "row", "column", "question", "message", "kind"}


def copy_workbook(tmp_path: Path, form_id: str) -> Path:
    folder = tmp_path / "sources"
    shutil.copytree(MEDIA_DIR, folder / "media")
    return Path(shutil.copy(SOURCES_DIR / f"{form_id}.xlsx", folder))


def set_cell(source: Path, sheet: str, name: str, column: str, value: str) -> int:
    """Set one cell of a real workbook; return its Excel row."""
    book = openpyxl.load_workbook(source)
    rows = book[sheet]
    header = [cell.value for cell in rows[1]]
    for row in rows.iter_rows(min_row=2):
        if row[header.index("name" if sheet != "entities" else "list_name")].value == name:
            row[header.index(column)].value = value
            book.save(source)
            return row[0].row
    raise AssertionError(f"no row {name!r} in {sheet}")


def test_a_parameter_column_the_csv_lacks_is_refused_on_its_row(tmp_path: Path) -> None:
    source = copy_workbook(tmp_path, "income_check")
    book = openpyxl.load_workbook(source)
    survey = book["survey"]
    header = [cell.value for cell in survey[1]]
    row = next(
        r for r in survey.iter_rows(min_row=2)
        if "instance('income_lines')" in str(r[header.index("calculation")].value or "")
    )
    cell = row[header.index("calculation")]
    lookup = r"(instance\('income_lines'\)/root/item\[[^\]]*\]/\w+)"
    written, cell.value = cell.value, re.sub(lookup, r"\1_typo", cell.value)
    assert cell.value != written
    book.save(source)
    compiled = compile_xlsform(source)  # valid ODK: the phone would just show an empty value
    with pytest.raises(FormBuildError) as caught:
        check_form(compiled, folder_columns(source.parent))
    (problem,) = caught.value.problems
    assert (problem.sheet, problem.row, problem.column) == ("survey", cell.row, "calculation")
    assert problem.question == row[header.index("name")].value
    assert "income_lines.csv has no column" in problem.message


def test_a_household_property_the_list_lacks_is_refused(tmp_path: Path) -> None:
    source = copy_workbook(tmp_path, "water_survey")
    lookup = "instance('households')/root/item[name=${hh_ref}]/head"
    row = set_cell(source, "survey", "head_name", "calculation", lookup)
    with pytest.raises(FormBuildError) as caught:
        check_form(compile_xlsform(source, validate=False), folder_columns(source.parent))
    assert [(p.sheet, p.row, p.column, p.question) for p in caught.value.problems] == [
        ("survey", row, "calculation", "head_name")
    ]
    assert "household list has no column 'head'" in caught.value.problems[0].message


def test_an_entity_list_the_registry_does_not_keep_is_refused(tmp_path: Path) -> None:
    source = copy_workbook(tmp_path, "house_appraisal")
    set_cell(source, "entities", "households", "list_name", "houses")
    with pytest.raises(FormBuildError) as caught:
        check_form(compile_xlsform(source, validate=False), folder_columns(source.parent))
    assert [(p.sheet, p.row, p.column) for p in caught.value.problems] == [("entities", 2, "list_name")]


def test_a_follow_up_form_without_hh_ref_is_refused(tmp_path: Path) -> None:
    source = copy_workbook(tmp_path, "house_appraisal")
    book = openpyxl.load_workbook(source)
    survey = book["survey"]
    for row in survey.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str) and "hh_ref" in cell.value:
                cell.value = cell.value.replace("hh_ref", "hh_pick")
    book["entities"]["B2"].value = book["entities"]["B2"].value.replace("hh_ref", "hh_pick")
    book.save(source)
    with pytest.raises(FormBuildError) as caught:
        check_form(compile_xlsform(source, validate=False), folder_columns(source.parent))
    assert [(p.sheet, p.row, p.column) for p in caught.value.problems] == [("entities", 2, "entity_id")]
    assert "hh_ref" in caught.value.problems[0].message


def test_the_cli_keeps_its_sentence_and_prints_every_row(tmp_path: Path) -> None:
    source = tmp_path / "twice.md"
    source.write_text(
        "\n| survey | | | |\n| | type | name | label |\n| | integer | age | Age |\n| | integer | age | Again |\n"
        + SETTINGS,
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["forms", "build", str(source)])
    assert result.exit_code != 0
    assert "REFUSED " + source.name + ", sheet 'survey', row 3: The 'name' value 'age' is invalid." in result.output
    assert "also: sheet 'survey', row 2 (field 'age', column 'name'): The name 'age' is used again in row 3." in (
        result.output
    )


def test_a_problem_reads_as_a_sentence() -> None:
    problem = FormProblem("Bad.", "warning", "survey", 4, "relevant", "job")
    assert problem.sentence("f.xlsx") == "f.xlsx, sheet 'survey', row 4 (field 'job', column 'relevant'): Bad."
    assert FormProblem("Bad.").sentence() == "Bad."
