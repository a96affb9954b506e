"""Times as ODK Central writes them in JSON: UTC with milliseconds and ``Z`` (``2018-01-19T23:58:03.395Z``).

One function for every time the API, the OData feeds and the exports write, so a client reads the same text
whichever database is behind the server: PostgreSQL hands back aware datetimes, SQLite naive ones that
are UTC (the models store UTC only), and ``isoformat`` alone would give ``+00:00`` on one and nothing on
the other.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso_ms(value: datetime) -> str:
    """Central's timestamp text: UTC with milliseconds and ``Z`` (``2024-03-05T02:05:09.123Z``)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def iso_ms_or_none(value: datetime | None) -> str | None:
    """``iso_ms``, or ``None`` (JSON ``null``) for a time that has not happened (not deleted, not published)."""
    return None if value is None else iso_ms(value)
