"""Writing the stored copy of a submission version (its format and its reading: `sync.exports.stored`).

Ingestion writes each version's copy in its own transaction (`copies_of`); the ``flatten`` job fills in
the copies of versions stored before there were any (`backfill`). Both make it the same way, from the
schema of the version's own form: the rows of every table (``flat``), and the texts the plain OData feed
and the CSV exports write for it (``texts``).
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache

from lxml import etree
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from sync.db.models import FormVersion, SubmissionVersion
from sync.exports.csv_files import PlainCsv
from sync.exports.flatten import FlatRow, Flattener
from sync.exports.odata import RootText
from sync.exports.plan import form_schema
from sync.exports.source import parse_xml
from sync.exports.stored import FORMAT, SEPARATOR, TEXTS_MARK

BACKFILL_BATCH = 500
_log = logging.getLogger(__name__)
_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(",", ":")).encode


class _Writer:
    """What one form version's copies are made with, compiled once per form version."""

    def __init__(self, form_xml: bytes) -> None:
        schema = form_schema(form_xml)
        self.flattener = Flattener(schema)
        self.odata = RootText(schema)
        self.csv = PlainCsv(schema)

    def copies(self, tables: list[list[FlatRow]], instance_id: str) -> tuple[bytes, str]:
        """The rows' copy and the texts of one instance's tables."""
        rows = _ENCODE([FORMAT, [[[parent, key, *values] for values, parent, key in rows] for rows in tables]])
        texts = [self.odata(tables[0][0][0], instance_id), *self.csv(tables)]
        return rows.encode(), TEXTS_MARK + SEPARATOR.join(texts)


@lru_cache(maxsize=64)
def writer(form_xml: bytes) -> _Writer:
    """The writer of one form version's copies, compiled once per process (a version never changes)."""
    return _Writer(form_xml)


def copies_of(form_xml: bytes, instance_xml: bytes, instance_id: str) -> dict[str, bytes | str | None]:
    """The stored copies of one instance, as the columns ``flat`` and ``texts``; None when they cannot be
    made (the exports then parse the XML)."""
    try:
        made = writer(form_xml)
        flat, texts = made.copies(made.flattener.rows(parse_xml(instance_xml), instance_id), instance_id)
    except (ValueError, etree.XMLSyntaxError, StopIteration, KeyError):
        _log.warning("instance %s not flattened; exports will read its XML", instance_id, exc_info=True)
        return {"flat": None, "texts": None}
    return {"flat": flat, "texts": texts}


def backfill(session: Session, limit: int = BACKFILL_BATCH) -> int:
    """Make the copies of up to ``limit`` current versions that lack one; how many were looked at.

    Run by the ``flatten`` job (sync/job_kinds.py) after the migrations that added the columns (0011 the
    rows, 0016 the texts); a version that cannot be flattened gets an empty copy of format 0 and empty
    texts, so it is not tried again and exports read its XML."""
    rows = session.execute(
        select(
            SubmissionVersion.id,
            SubmissionVersion.xml,
            SubmissionVersion.instance_id,
            FormVersion.xml,
            SubmissionVersion.flat.is_(None),
            SubmissionVersion.texts.is_(None),
        )
        .join(FormVersion, FormVersion.id == SubmissionVersion.form_version_id)
        .where(
            SubmissionVersion.current.is_(True),
            or_(SubmissionVersion.flat.is_(None), SubmissionVersion.texts.is_(None)),
        )
        .order_by(SubmissionVersion.id)
        .limit(limit)
    ).all()
    for version_id, xml, instance_id, form_xml, lacks_flat, lacks_texts in rows:
        made = copies_of(form_xml, xml, instance_id)
        values: dict[str, bytes | str] = {}  # only what is missing: a copy made before is never replaced
        if lacks_flat:
            values["flat"] = made["flat"] or b"[0,[]]"
        if lacks_texts:
            values["texts"] = made["texts"] or ""
        session.execute(
            SubmissionVersion.__table__.update().where(SubmissionVersion.id == version_id).values(**values)
        )
    return len(rows)
