"""The ledger's map data: households at their registered positions with their open problems, and the
township and village boundaries the county supplies as GeoJSON (``QINGLING_BOUNDARIES_GEOJSON``).

Positions are the baseline's house GPS (``households.latitude/longitude``, docs/registry.md); a household
without one is left off the map and counted, never placed at a guess. One grouped query, capped, so a
province's map stays a page rather than a download.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from sync.db.models import Household, LedgerItem
from sync.ledger.queries import ACTIVE, check_area, in_area

MAX_POINTS = 20_000


@dataclass(frozen=True)
class MapPoint:
    code: str
    latitude: float
    longitude: float
    open_items: int
    known: bool  # some appraisal, water survey or income check judged it: 0 open means cleared, else unknown


@dataclass
class MapData:
    points: list[MapPoint]
    without_position: int
    truncated: bool


def map_points(session: Session, project_id: int, area: str, *, limit: int = MAX_POINTS) -> MapData:
    area = check_area(area)
    known = ~and_(Household.house_grade.is_(None), Household.water_verdict.is_(None), Household.income_year.is_(None))
    where = [Household.project_id == project_id, Household.registered_on.is_not(None), Household.village.is_not(None)]
    if area:
        where += in_area(Household.village, area)
    placed = and_(Household.latitude.is_not(None), Household.longitude.is_not(None))
    rows = session.execute(
        select(Household.code, Household.latitude, Household.longitude, case((known, 1), else_=0),
               func.count(LedgerItem.id))
        .outerjoin(LedgerItem, and_(LedgerItem.household_id == Household.id, LedgerItem.state.in_(ACTIVE)))
        .where(*where, placed)
        .group_by(Household.id, Household.code, Household.latitude, Household.longitude, Household.house_grade,
                  Household.water_verdict, Household.income_year)
        .order_by(Household.code)
        .limit(limit + 1)
    ).all()  # fmt: skip
    without = session.scalar(select(func.count()).select_from(Household).where(*where, ~placed)) or 0
    points = [MapPoint(code, lat, lon, int(count), bool(k)) for code, lat, lon, k, count in rows[:limit]]
    return MapData(points, int(without), len(rows) > limit)


@dataclass(frozen=True)
class Boundary:
    code: str
    rings: list[list[tuple[float, float]]]  # (longitude, latitude) rings


class BoundaryFileError(ValueError):
    """The county's GeoJSON cannot be read: the page says so instead of drawing a wrong map."""


def load_boundaries(path: Path | None, area: str) -> list[Boundary]:
    """Features whose ``properties.code`` (an administrative code) lies in ``area`` or contains it."""
    if path is None:
        return []
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        features = data["features"] if data.get("type") == "FeatureCollection" else [data]
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise BoundaryFileError(f"The boundaries file cannot be read as GeoJSON: {exc}") from None
    found = []
    for feature in features:
        code = str((feature.get("properties") or {}).get("code") or "")
        geometry = feature.get("geometry") or {}
        if not code.isdigit() or not (code.startswith(area) or area.startswith(code)):
            continue
        polygons = {"Polygon": [geometry.get("coordinates")], "MultiPolygon": geometry.get("coordinates")}.get(
            geometry.get("type"), []
        )
        rings = [[(float(x), float(y)) for x, y, *_ in ring] for polygon in polygons or [] for ring in polygon or []]
        if rings:
            found.append(Boundary(code, rings))
    return found
