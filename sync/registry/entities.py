"""The ``households`` entity list: the CSV phones download, its version hash, Central's entity API.

Entity version N of a household is its N-th counted record in order of receipt (registration, then every
update); it is derived, like the rest of the household's state, so a rebuild gives the same versions.
The manifest hash changes whenever any household changes, so phones refresh the list (docs/protocol.md §6).

A phone with an area (sync/access/areas.py), or an account whose membership has one (sync/access/scope.py),
receives only that area's households, and its hash is computed over them alone, so a change in one village
makes only that village's phones download again. The area is matched on the household's indexed
``village`` or ``township`` column (or ``county``), so a village's list of ~500 households is one index
range scan however large the province.

Central's entity API (``GET .../datasets/households/entities``, what pyodk's ``entities.list()`` reads) is
written here too, entity by entity as pages of households are read (``in_pages``, which the OData feed in
sync/exports/entity_odata.py reads as well), so a list of 10,000 households is never held whole.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, Select, func, select
from sqlalchemy.orm import Session, load_only

from sync.access.scope import Scope
from sync.db.engine import read_snapshot
from sync.db.models import Household, SubmissionVersion
from sync.errors import NotFound
from sync.registry.households import HISTORY, UPDATES, counted, updated_property
from sync.times import iso_ms

DATASET = "households"
LISTING_BATCH = 500  # households whose versions are read together: bounded memory, few queries
PROPERTIES = (
    "hh_code",
    "county",
    "township",
    "village",
    "group_name",
    "head_name",
    "hh_size",
    "house_grade",
    "water_verdict",
    "income_pc",
    "net_total",
    "income_year",
)


def properties(household: Household) -> dict[str, str]:
    values = {
        "hh_code": household.code,
        "county": household.county,
        "township": household.township,
        "village": household.village,
        "group_name": household.group_name,
        "head_name": household.head_name,
        "hh_size": household.hh_size,
        "house_grade": household.house_grade,
        "water_verdict": household.water_verdict,
        "income_pc": household.income_pc,
        "net_total": household.net_total,
        "income_year": household.income_year,
    }
    return {name: "" if value is None else str(value) for name, value in values.items()}


def _scope(project_id: int, area: str | None) -> list[ColumnElement[bool]]:
    """Registered households of the project, within ``area`` when one is given (6, 9 or 12 digits)."""
    conditions = [Household.project_id == project_id, Household.registered_on.is_not(None)]
    if area is not None:
        column = {6: Household.county, 9: Household.township, 12: Household.village}.get(len(area))
        if column is None:
            raise ValueError(f"not an area code: {area!r}")
        conditions.append(column == area)
    return conditions


def registered(session: Session, project_id: int, area: str | None = None):  # noqa: ANN201 - a Select
    """Registered households of the project (of ``area`` when given), by code."""
    return select(Household).where(*_scope(project_id, area)).order_by(Household.code)


def entity_list_hash(session: Session, project_id: int, area: str | None = None) -> str:
    """An opaque version token: changes whenever a household of the list is added or changes."""
    count, latest, versions = session.execute(
        select(func.count(), func.max(Household.updated_at), func.sum(Household.entity_version)).where(
            *_scope(project_id, area)
        )
    ).one()
    scope = f"{project_id}:{area or '*'}"
    return hashlib.md5(f"{scope}:{count}:{latest}:{versions}".encode(), usedforsecurity=False).hexdigest()


# The columns of the CSV, in PROPERTIES order after name, label and __version: read as plain rows, not
# ORM objects (a household has ~60 columns, JSON among them; loading them was most of a list's time).
_CSV_COLUMNS = (
    Household.entity_id,
    Household.label,
    Household.entity_version,
    Household.code,
    Household.county,
    Household.township,
    Household.village,
    Household.group_name,
    Household.head_name,
    Household.hh_size,
    Household.house_grade,
    Household.water_verdict,
    Household.income_pc,
    Household.net_total,
    Household.income_year,
)


def entity_list_csv(session: Session, project_id: int, area: str | None = None) -> Iterator[bytes]:
    """The CSV Collect reads: ``name,label,__version`` then the properties, one row per household."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "label", "__version", *PROPERTIES])
    query = select(*_CSV_COLUMNS).where(*_scope(project_id, area)).order_by(Household.code)
    for row in session.execute(query.execution_options(yield_per=2000)):
        writer.writerow(["" if value is None else value for value in row])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


_BUILT: OrderedDict[tuple[int, str | None, str], bytes] = OrderedDict()
_BUILT_LOCK = threading.Lock()
CACHED_LISTS = 256  # lists of an area (~65 kB for a village of 500): at most ~16 MB per process
CACHED_LIST_BYTES = 1_000_000  # a larger list (a township, the whole project) is built every time


def entity_list(session: Session, project_id: int, area: str | None = None) -> tuple[str, bytes]:
    """The list's hash and its CSV, the CSV built once per hash in this process.

    The hash is the version phones compare (they download the list only when it changed), so a CSV
    built for one hash is the CSV for that hash: the phones of one village, and every form of one phone
    naming the same list, then cost one indexed aggregate each instead of a build.
    """
    token = entity_list_hash(session, project_id, area)
    key = (project_id, area, token)
    with _BUILT_LOCK:
        body = _BUILT.get(key)
        if body is not None:
            _BUILT.move_to_end(key)
            return token, body
    body = b"".join(entity_list_csv(session, project_id, area))
    if len(body) <= CACHED_LIST_BYTES:
        with _BUILT_LOCK:
            _BUILT[key] = body
            while len(_BUILT) > CACHED_LISTS:
                _BUILT.popitem(last=False)
    return token, body


@dataclass(frozen=True)
class EntityVersion:
    version: int
    label: str
    created_at: datetime
    base_version: int | None
    submission_id: int
    instance_id: str
    creator_id: int
    user_agent: str
    data: dict[str, str]
    current: bool


def get_entity(session: Session, project_id: int, entity_id: str, scope: Scope | None = None) -> Household:
    household = session.scalar(
        select(Household).where(Household.project_id == project_id, Household.entity_id == entity_id)
    )
    outside = household is not None and scope is not None and not scope.sees_household(household)
    if household is None or household.registered_on is None or outside:
        raise NotFound(f"There is no household entity {entity_id} in this project.")
    return household


def entity_versions(session: Session, household: Household) -> list[EntityVersion]:
    """Every version of a household entity, oldest first; the data of the last is its current state."""
    return versions_of(session, [household])[household.id]


def in_pages(session: Session, households: Select) -> Iterator[tuple[list[Household], dict[int, list[EntityVersion]]]]:
    """The households ``households`` selects, ``LISTING_BATCH`` at a time, each page with its versions.

    The rows come from one cursor (server-side on PostgreSQL) and each page's versions in five queries,
    so memory holds one page whatever the size of the list; the cursor is closed when the reader stops.
    """
    rows = session.scalars(households.execution_options(yield_per=LISTING_BATCH))
    try:
        for page in rows.partitions():
            page = list(page)
            yield page, versions_of(session, page)
    finally:
        rows.close()


def entity_listing(engine: Engine, project_id: int, scope: Scope | None = None) -> Iterator[bytes]:
    """Central's entity list, ``[{"uuid": ..., "currentVersion": {...}}, ...]``, written as it is read.

    The households of ``scope``'s area (the whole project's without one), in code order, from one
    consistent snapshot (a household changing meanwhile is listed as it was). The text is what Flask's
    ``jsonify`` gives for the same list (sorted keys, ASCII, compact, a final newline), so a client sees
    the bytes a single entity's answer has.
    """
    with read_snapshot(engine) as connection, Session(bind=connection) as session:
        yield b"["
        separator = b""
        households = registered(session, project_id, scope.limit if scope else None)
        with closing(in_pages(session, households)) as pages:
            for page, versions in pages:
                text = ",".join(_json(entity_json(household, versions[household.id])) for household in page)
                yield separator + text.encode("ascii")
                separator = b","
        yield b"]\n"


def entity_json(household: Household, versions: list[EntityVersion]) -> dict:
    """One entity as Central lists it: uuid, creator, times and the current version."""
    current = versions[-1] if versions else None
    return {
        "uuid": household.entity_id,
        "creatorId": versions[0].creator_id if versions else 0,
        "createdAt": iso_ms(versions[0].created_at) if versions else None,
        "updatedAt": iso_ms(current.created_at) if current and len(versions) > 1 else None,
        "deletedAt": None,
        "conflict": None,
        "currentVersion": version_json(current) if current else None,
    }


def version_json(version: EntityVersion) -> dict:
    """One version as Central's ``.../entities/<uuid>/versions`` lists it (no conflicts: edits are ordered)."""
    return {
        "version": version.version,
        "label": version.label,
        "current": version.current,
        "createdAt": iso_ms(version.created_at),
        "creatorId": version.creator_id,
        "userAgent": version.user_agent,
        "baseVersion": version.base_version,
        "conflictingProperties": None,
        "data": version.data,
        "source": {"submission": {"instanceId": version.instance_id}},
    }


def _json(value: dict) -> str:
    """The text ``jsonify`` writes for ``value`` (the app's provider: sorted keys, ASCII, no spaces)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


# What a version is made of, read from each history row; the rest (the answers and verdicts as JSON) is
# not loaded: decoding it was most of a listing's time.
_VERSION_COLUMNS = (
    "id", "household_id", "submission_id", "submission_version_id", "instance_id", "received_at", "base_version"
)


def versions_of(session: Session, households: Sequence[Household]) -> dict[int, list[EntityVersion]]:
    """The versions of each household entity: its counted records in order of receipt, version N the N-th.

    One query per history table and one for the submitters, whatever the number of households (the entity
    listing pyodk reads asked 5 + 1 per record for each household before).
    """
    ids = [household.id for household in households]
    rows: dict[int, list] = {household_id: [] for household_id in ids}
    for model in HISTORY:
        needed = load_only(*(getattr(model, name) for name in (*_VERSION_COLUMNS, UPDATES[model][2])))
        query = select(model).options(needed).where(model.household_id.in_(ids), counted(model))
        for row in session.scalars(query):
            rows[row.household_id].append(row)
    version_ids = {row.submission_version_id for found in rows.values() for row in found}
    submitters = {
        version_id: (app_user_id or user_id or 0, user_agent or "")
        for version_id, app_user_id, user_id, user_agent in session.execute(
            select(
                SubmissionVersion.id,
                SubmissionVersion.submitter_app_user_id,
                SubmissionVersion.submitter_user_id,
                SubmissionVersion.user_agent,
            ).where(SubmissionVersion.id.in_(version_ids))
        )
    }
    return {household.id: _versions(household, rows[household.id], submitters) for household in households}


def _versions(household: Household, rows: list, submitters: dict[int, tuple[int, str]]) -> list[EntityVersion]:
    rows = sorted(rows, key=lambda row: (row.received_at, row.id))
    versions = []
    for number, row in enumerate(rows, start=1):
        creator_id, user_agent = submitters.get(row.submission_version_id, (0, ""))
        current = number == len(rows)
        versions.append(
            EntityVersion(
                version=number,
                label=household.label,
                created_at=row.received_at,
                base_version=row.base_version,
                submission_id=row.submission_id,
                instance_id=row.instance_id,
                creator_id=creator_id,
                user_agent=user_agent,
                data=properties(household) if current else updated_property(row),
                current=current,
            )
        )
    return versions
