"""Submission exports as the HTTP layer and the CLI ask for them: validated first, streamed after.

`prepare` checks the form, the options and the ``$filter``, counts the rows (so a long download is
announced before it starts), audits the export with its parameters and count, and returns a `Prepared`
whose ``body`` streams the file. Nothing is sent before every check has passed (docs/exports.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from media.store import BlobStore
from sync.db.engine import read_snapshot
from sync.errors import BadRequest
from sync.exports.csv_files import csv_zip, root_csv
from sync.exports.plan import Table
from sync.exports.source import ExportQuery, build_query, count_rows
from sync.exports.tables import Options, file_names
from sync.exports.typed import label_languages
from sync.intake.forms import published_form
from sync.oversight.audit import record

FORMATS = {
    "csv-zip": "application/zip",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}


@dataclass
class Prepared:
    filename: str
    content_type: str
    rows: int | None  # root rows, when known without reading the answers
    body: Callable[[Engine, BlobStore], Iterator[bytes]]


def flag(params: Mapping[str, str], name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise BadRequest(f"{name} must be true or false.")


def prepare(
    session: Session,
    engine: Engine,
    project_id: int,
    xml_form_id: str,
    kind: str,
    params: Mapping[str, str],
    *,
    area: str | None,
    user_id: int | None,
) -> Prepared:
    """``kind``: ``csv-zip`` (``attachments`` decides media), ``csv``, ``xlsx`` (``labels``, ``codes``) or
    ``parquet`` (``table``)."""
    form = published_form(session, project_id, xml_form_id)
    options = Options(
        group_paths=flag(params, "groupPaths", True),
        split_select_multiples=flag(params, "splitSelectMultiples", False),
    )
    with_media = flag(params, "attachments", True)
    query = build_query(
        session,
        form,
        filter_text=params.get("$filter"),
        area=area,
        deleted_fields=flag(params, "deletedFields", False),
    )
    with read_snapshot(engine) as connection:
        rows = None if query.filters_in_python else count_rows(connection, query)
    audit(session, f"export.submissions.{kind}", xml_form_id, params, rows, area=area, user_id=user_id)
    if kind == "csv":
        return Prepared(f"{xml_form_id}.csv", FORMATS["csv"], rows, lambda eng, _store: root_csv(eng, query, options))
    if kind == "xlsx":
        languages = label_languages(params.get("labels"))
        codes = flag(params, "codes", False)
        sheets = {path: name.removesuffix(".csv") for path, name in file_names(query.schema, xml_form_id).items()}
        return Prepared(
            f"{xml_form_id}.xlsx",
            FORMATS["xlsx"],
            rows,
            lambda eng, _store: _xlsx(eng, query, sheets, options, languages, codes),
        )
    if kind == "parquet":
        table = _parquet_table(query, params.get("table"))
        suffix = f"-{table.name}" if table.parent is not None else ""
        return Prepared(
            f"{xml_form_id}{suffix}.parquet",
            FORMATS["parquet"],
            rows if table.parent is None else None,
            lambda eng, _store: _parquet(eng, query, table, options),
        )
    if kind != "csv-zip":
        raise BadRequest(f"Unknown export format {kind!r}; expected one of {', '.join(FORMATS)}.")
    names = file_names(query.schema, xml_form_id)
    filename = f"{xml_form_id}.zip" if with_media else f"{xml_form_id}.csv.zip"
    return Prepared(
        filename,
        FORMATS["csv-zip"],
        rows,
        lambda eng, store: csv_zip(eng, query, names, options, store=store if with_media else None),
    )


def _parquet_table(query: ExportQuery, name: str | None) -> Table:
    """``?table=``: a repeat by its path (``members`` or ``grp/members``) or name; the root by default."""
    tables = query.schema.tables()
    if not name:
        return tables[0]
    for table in tables[1:]:
        if "/".join(table.path) == name or table.name == name:
            return table
    known = ", ".join("/".join(t.path) for t in tables[1:]) or "none"
    raise BadRequest(f"Unknown table {name!r}; the form's repeats are: {known}.")


def audit(
    session: Session,
    action: str,
    subject: str,
    params: Mapping[str, str],
    rows: int | None,
    *,
    area: str | None,
    user_id: int | None,
) -> None:
    """Every export leaves a line: what, with which parameters and area, and how many rows it announced."""
    record(
        session,
        action,
        subject=subject,
        details={"parameters": dict(params), "area": area, "rows": rows},
        user_id=user_id,
    )
    session.commit()


__all__ = ["ExportQuery", "Prepared", "prepare"]


# xlsxwriter and pyarrow (51 MiB) are imported by the first XLSX or Parquet download, not when the
# server starts (docs/performance.md, Exports: memory).
def _xlsx(
    engine: Engine, query: ExportQuery, sheets: dict[tuple[str, ...], str], options: Options,
    languages: tuple[str, ...], codes: bool,
) -> Iterator[bytes]:
    from sync.exports.xlsx import workbook

    return workbook(engine, query, sheets, options, languages=languages, codes=codes)


def _parquet(engine: Engine, query: ExportQuery, table: Table, options: Options) -> Iterator[bytes]:
    from sync.exports.parquet import table_file

    return table_file(engine, query, table, options)
