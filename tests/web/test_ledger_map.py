"""The ledger's map with Flask's client, on both databases: households at their registered positions,
coloured by open problems, only those of the account's area, with the county's GeoJSON boundaries."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from server.config import Settings, load_settings
from tests.web.test_queue import signed_in
from tests.web.workspace import TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, Workspace


def square(code: str, lon: float, lat: float, size: float) -> dict:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Feature", "properties": {"code": code}, "geometry": {"type": "Polygon", "coordinates": [ring]}}


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    boundaries = tmp_path / "boundaries.geojson"
    boundaries.write_text(json.dumps({"type": "FeatureCollection", "features": [
        square(TOWNSHIP_A, 111.0, 40.5, 0.5), square(VILLAGE_A, 111.1, 40.6, 0.2), square(TOWNSHIP_B, 111.6, 40.5, 0.5),
    ]}), encoding="utf-8")  # fmt: skip
    return load_settings({}, data_dir=tmp_path / "data", database_url=database_url, publish_forms_on_start=False,
                         allow_http_basic=True, boundaries_geojson=boundaries)  # fmt: skip


def test_the_map_shows_the_areas_households_and_boundaries(app, small_county: Workspace, project) -> None:  # noqa: ANN001
    county = signed_in(app, "manager", "county").get(f"/projects/{project.id}/ledger/map").get_data(as_text=True)
    dots = {code: cls for cls, code in re.findall(r'class="household (problems-[a-z]+)" data-household="(\d+)"',
                                                  county)}  # fmt: skip
    assert len(dots) == 12
    # Grades A, B, C, D in turn: half the households have one open housing problem, half none.
    assert sorted(dots.values()).count("problems-one") == 6 and sorted(dots.values()).count("problems-none") == 6
    assert set(re.findall(r'data-boundary="(\d+)"', county)) == {TOWNSHIP_A, VILLAGE_A, TOWNSHIP_B}
    township = signed_in(app, "supervisor", "township_a").get(f"/projects/{project.id}/ledger/map")
    text = township.get_data(as_text=True)
    codes = set(re.findall(r'data-household="(\d+)"', text))
    assert len(codes) == 8 and all(code.startswith(TOWNSHIP_A) for code in codes)
    assert set(re.findall(r'data-boundary="(\d+)"', text)) == {TOWNSHIP_A, VILLAGE_A}
    assert signed_in(app, "supervisor", "township_a").get(
        f"/projects/{project.id}/ledger/map?area={TOWNSHIP_B}").status_code == 404
