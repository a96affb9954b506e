"""The flattened copy of each submission version, written at ingestion and read back by every export.

Parsing each instance and walking it were two thirds of an export's time (docs/performance.md,
Exports). Ingestion already holds the XML and its form version, so it flattens the instance once, with
the exports' own walker (`sync.exports.flatten.Flattener`, the schema of the version's form), and stores
the rows of every table in ``submission_versions.flat`` in the same transaction. An export of the form's
current version reads those rows and neither parses nor walks; anything else falls back to the XML,
so an export is never incomplete: a version not flattened yet (stored before this column, until the
``flatten`` job has filled it in), one of an earlier form version (its tables differ), ``deletedFields``
(a merged schema), or a copy in an older `FORMAT`.

The copy is JSON (compact, decoded in C): ``[FORMAT, tables]``, a list per table in
`FormSchema.tables()` order of rows ``[parent key, key, slot values...]``. Bump `FORMAT` whenever the
walker or the schema reader changes what a row holds; old copies are then ignored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from lxml import etree
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from sync.db.models import FormVersion, SubmissionVersion
from sync.exports.flatten import FlatRow, Flattener
from sync.exports.plan import form_schema
from sync.exports.source import ExportQuery, ExportRow, iter_rows, parse_xml

FORMAT = 1
BACKFILL_BATCH = 500
_log = logging.getLogger(__name__)
_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":")).encode
_flatteners: dict[bytes, Flattener] = {}


def _flattener(form_xml: bytes) -> Flattener:
    found = _flatteners.get(form_xml)
    if found is None:
        if len(_flatteners) >= 64:
            _flatteners.clear()
        found = _flatteners[form_xml] = Flattener(form_schema(form_xml))
    return found


def flat_copy(form_xml: bytes, instance_xml: bytes, instance_id: str) -> bytes | None:
    """The stored copy of one instance, or None when it cannot be made (the export then parses the XML)."""
    try:
        tables = _flattener(form_xml).rows(parse_xml(instance_xml), instance_id)
    except (ValueError, etree.XMLSyntaxError, StopIteration, KeyError):
        _log.warning("instance %s not flattened; exports will read its XML", instance_id, exc_info=True)
        return None
    return _ENCODE([FORMAT, [[[parent, key, *values] for values, parent, key in rows] for rows in tables]]).encode()


def read_copy(flat: bytes, widths: list[int]) -> list[list[FlatRow]] | None:
    """The tables of a stored copy, or None when it is of another format or shape than ``widths`` says."""
    data = json.loads(flat.decode("utf-8"))  # json.loads would first sniff the bytes' encoding
    if data[0] != FORMAT or len(data[1]) != len(widths):
        return None
    tables = [[(row[2:], row[0], row[1]) for row in rows] for rows in data[1]]
    for rows, width in zip(tables, widths, strict=True):
        if rows and len(rows[0][0]) != width:
            return None
    return tables


def iter_tables(
    connection: Connection, query: ExportQuery, flattener: Flattener
) -> Iterator[tuple[ExportRow, list[list[FlatRow]]]]:
    """Each matching submission (as `iter_rows`) with the rows of every table ``flattener`` wants.

    The stored copy gives all tables; the fallback walks only the wanted ones, the consumer reads those."""
    widths = flattener.widths
    for row, root in iter_rows(connection, query, flat=True):
        tables = read_copy(row.flat, widths) if row.flat is not None else None
        if tables is None:
            if root is None:
                xml = row.xml if row.xml is not None else _xml(connection, row.version_id)
                root = parse_xml(xml)
            tables = flattener.rows(root, row.instance_id)
        yield row, tables


def _xml(connection: Connection, version_id: int) -> bytes:
    return connection.scalar(select(SubmissionVersion.xml).where(SubmissionVersion.id == version_id))


def backfill(session: Session, limit: int = BACKFILL_BATCH) -> int:
    """Flatten up to ``limit`` current versions that have no copy yet; how many were looked at.

    Run by the ``flatten`` job (sync/job_kinds.py) after the migration that added the column; a version
    that cannot be flattened gets an empty copy of format 0, so it is not tried again and exports read its
    XML."""
    rows = session.execute(
        select(SubmissionVersion.id, SubmissionVersion.xml, SubmissionVersion.instance_id, FormVersion.xml)
        .join(FormVersion, FormVersion.id == SubmissionVersion.form_version_id)
        .where(SubmissionVersion.current.is_(True), SubmissionVersion.flat.is_(None))
        .order_by(SubmissionVersion.id)
        .limit(limit)
    ).all()
    for version_id, xml, instance_id, form_xml in rows:
        copy = flat_copy(form_xml, xml, instance_id) or b"[0,[]]"
        session.execute(
            SubmissionVersion.__table__.update().where(SubmissionVersion.id == version_id).values(flat=copy)
        )
    return len(rows)
