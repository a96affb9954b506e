"""The ``households`` entity list: the CSV phones download, its version hash, Central's entity API.

Entity version N of a household is its N-th counted record in order of receipt (registration, then every
update); it is derived, like the rest of the household's state, so a rebuild gives the same versions.
The manifest hash changes whenever any household changes, so phones refresh the list (docs/protocol.md §6).

A phone with an area (sync/access/areas.py), or an account whose membership has one (sync/access/scope.py),
receives only that area's households, and its hash is computed over them alone, so a change in one village
makes only that village's phones download again. The area is matched on the household's indexed
``village`` or ``township`` column (or ``county``), so a village's list of ~500 households is one index
range scan however large the province.
"""

from __future__ import annotations

import csv
import hashlib
import io
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from sync.access.scope import Scope
from sync.db.models import Household, SubmissionVersion
from sync.errors import NotFound
from sync.registry.households import HISTORY, counted, updated_property

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


def entity_listing(
    session: Session, project_id: int, scope: Scope | None = None
) -> Iterator[tuple[Household, list[EntityVersion]]]:
    """Every registered household (of ``scope``'s area) with its versions, a batch of households at a time."""
    households = session.scalars(registered(session, project_id, scope.limit if scope else None)).all()
    for start in range(0, len(households), LISTING_BATCH):
        batch = households[start : start + LISTING_BATCH]
        versions = versions_of(session, batch)
        for household in batch:
            yield household, versions[household.id]


def versions_of(session: Session, households: Sequence[Household]) -> dict[int, list[EntityVersion]]:
    """The versions of each household entity: its counted records in order of receipt, version N the N-th.

    One query per history table and one for the submitters, whatever the number of households (the entity
    listing pyodk reads asked 5 + 1 per record for each household before).
    """
    ids = [household.id for household in households]
    rows: dict[int, list] = {household_id: [] for household_id in ids}
    for model in HISTORY:
        for row in session.scalars(select(model).where(model.household_id.in_(ids), counted(model))):
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
