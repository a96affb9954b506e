"""Qingling's own checks of a form, beyond pyxform and ODK Validate: what the server will read back.

A form can be valid ODK and still be useless here: a list the registry does not keep, a follow-up form
that cannot name its household, or a lookup of a column that the CSV does not have (the phone then shows
an empty value, silently). Each finding is a :class:`forms.problems.FormProblem` on its row, and the
form is refused with all of them (docs/forms.md §8).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

from forms.build import CompiledForm, FormBuildError, Location
from forms.diagnostics import survey_sheet
from forms.problems import FormProblem
from sync.registry.entities import DATASET, PROPERTIES

# Columns an entity list's CSV has besides the properties (docs/protocol.md §5.3).
ENTITY_COLUMNS = ("name", "label", "__version", *PROPERTIES)
_EXPRESSION_COLUMNS = ("calculation", "relevant", "constraint", "choice_filter", "default", "required", "trigger")
_INSTANCE_COLUMN = re.compile(r"instance\(\s*'([^']+)'\s*\)/root/item\[[^\]]*\]/([A-Za-z_][\w.\-]*)")
_PULLDATA_COLUMN = re.compile(r"pulldata\(\s*'([^']+)'\s*,\s*'([^']+)'")

CsvColumns = Callable[[str], "tuple[str, ...] | None"]


def csv_header(data: bytes) -> tuple[str, ...]:
    """The header row of a CSV media file (UTF-8, a BOM allowed)."""
    first = data.decode("utf-8-sig", errors="replace").splitlines()[:1]
    return tuple(cell.strip() for cell in next(csv.reader(io.StringIO(first[0])), [])) if first else ()


def folder_columns(directory: Path) -> CsvColumns:
    """Headers of the CSV files beside a source (its ``media`` folder first), for the CLI."""
    from forms.media_files import media_file

    def columns(name: str) -> tuple[str, ...] | None:
        path = media_file(name, directory)
        return csv_header(path.read_bytes()[:65536]) if path is not None else None

    return columns


def check_form(compiled: CompiledForm, columns: CsvColumns) -> None:
    """Raise FormBuildError listing every problem found; ``columns`` gives a media CSV's header or None."""
    if compiled.source.suffix.lower() == ".xml":
        problems = _entity_list(compiled, {}, None)
    else:
        sheet = survey_sheet(compiled.source)
        problems = _entity_list(compiled, dict(sheet), _entities_row(compiled.source))
        problems += _csv_columns(compiled, sheet, columns)
    if problems:
        first = problems[0]
        location = Location(first.sheet, first.row, first.column, first.question) if first.sheet else None
        error = FormBuildError(compiled.source, first.message, location)
        error.problems = tuple(problems)
        raise error


def _entities_row(source: Path) -> dict[str, str] | None:
    from pyxform.xls2json_backends import get_xlsform

    try:
        rows = get_xlsform(xlsform=str(source)).entities or []
    except Exception:  # noqa: BLE001 - pyxform has already read it once; nothing more to report
        return None
    return rows[0] if rows else None


def _entity_list(
    compiled: CompiledForm, cells: dict[int, dict[str, str]], entity: dict[str, str] | None
) -> list[FormProblem]:
    """The registry keeps one list, ``households``; a form updating it must say which household (hh_ref)."""
    sheet = "entities" if entity is not None else None
    row = 2 if entity is not None else None
    dataset = compiled.entity_dataset
    if dataset is None:
        return []
    if dataset != DATASET:
        return [
            FormProblem(
                f"The form writes the entity list '{dataset}', but the registry keeps one list, '{DATASET}'. "
                f"Set list_name to {DATASET}.",
                "error", sheet, row, "list_name",
            )
        ]
    names = {(row_cells.get("name") or "").strip() for row_cells in cells.values()}
    updates = bool(entity and (entity.get("entity_id") or "").strip())
    if updates and cells and "hh_ref" not in names:
        return [
            FormProblem(
                "The form updates registered households but has no question named hh_ref: the server finds "
                "the household by hh_ref (select_one_from_file households.csv), so every submission would "
                "be set aside as an unknown household.",
                "error", sheet, row, "entity_id",
            )
        ]
    return []


def _csv_columns(
    compiled: CompiledForm, sheet: list[tuple[int, dict[str, str]]], columns: CsvColumns
) -> list[FormProblem]:
    """Every ``instance('x')/root/item[...]/col`` and ``pulldata('x', 'col', ...)`` names a column x.csv has."""
    problems: list[FormProblem] = []
    known: dict[str, tuple[str, ...] | None] = {}
    for row, cells in sheet:
        for column in _EXPRESSION_COLUMNS:
            text = cells.get(column) or ""
            found = list(_INSTANCE_COLUMN.findall(text)) + list(_PULLDATA_COLUMN.findall(text))
            for name, wanted in found:
                if name not in known:
                    known[name] = ENTITY_COLUMNS if name in compiled.entity_lists else columns(f"{name}.csv")
                header = known[name]
                if header is None or wanted in header:
                    continue
                what = "the server's household list" if name in compiled.entity_lists else f"{name}.csv"
                problems.append(
                    FormProblem(
                        f"{what} has no column '{wanted}' (its columns: {', '.join(header)}); "
                        "the phone would show an empty value.",
                        "error", "survey", row, column, (cells.get("name") or "").strip() or None,
                    )
                )
    return problems
