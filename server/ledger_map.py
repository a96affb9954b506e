"""The ledger's map drawn on the server as inline SVG (Web Mercator, fitted to the households and the
boundaries shown): no tile server, no script, nothing the pages' Content-Security-Policy refuses."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sync.ledger.map import Boundary, MapPoint

WIDTH, HEIGHT, PAD = 800, 600, 20


@dataclass(frozen=True)
class Drawn:
    dots: list[tuple[float, float, MapPoint, str]]  # x, y, point, colour class
    outlines: list[tuple[str, str, str]]  # code, level class, SVG path


def _mercator(lon: float, lat: float) -> tuple[float, float]:
    lat = max(min(lat, 85.0), -85.0)
    return math.radians(lon), math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


def colour(point: MapPoint) -> str:
    if point.open_items >= 2:
        return "problems-many"
    if point.open_items == 1:
        return "problems-one"
    return "problems-none" if point.known else "problems-unknown"


def draw(points: list[MapPoint], boundaries: list[Boundary]) -> Drawn:
    projected = [_mercator(p.longitude, p.latitude) for p in points]
    rings = [[[_mercator(x, y) for x, y in ring] for ring in b.rings] for b in boundaries]
    every = projected + [xy for b in rings for ring in b for xy in ring]
    if not every:
        return Drawn([], [])
    xs, ys = [x for x, _ in every], [y for _, y in every]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-6)
    scale = min((WIDTH - 2 * PAD) / span, (HEIGHT - 2 * PAD) / span)

    def place(x: float, y: float) -> tuple[float, float]:
        return round(PAD + (x - min(xs)) * scale, 1), round(HEIGHT - PAD - (y - min(ys)) * scale, 1)

    dots = [(*place(x, y), p, colour(p)) for (x, y), p in zip(projected, points, strict=True)]
    outlines = []
    for boundary, shape in zip(boundaries, rings, strict=True):
        path = " ".join("M" + " L".join(f"{a},{b}" for a, b in (place(x, y) for x, y in ring)) + " Z" for ring in shape)
        level = {6: "county", 9: "township"}.get(len(boundary.code), "village")
        outlines.append((boundary.code, level, path))
    return Drawn(dots, outlines)
