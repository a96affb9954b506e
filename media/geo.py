"""Points on the Earth and the distance between them, for photo-location checks (docs/domain.md §3.6)."""

from __future__ import annotations

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius: the haversine error against WGS-84 stays below 0.5 %


@dataclass(frozen=True)
class GeoPoint:
    """A WGS-84 position in decimal degrees, with the optional altitude and accuracy ODK records (metres)."""

    latitude: float
    longitude: float
    altitude: float | None = None
    accuracy: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latitude) and -90.0 <= self.latitude <= 90.0):
            raise ValueError(f"latitude out of range: {self.latitude}")
        if not (math.isfinite(self.longitude) and -180.0 <= self.longitude <= 180.0):
            raise ValueError(f"longitude out of range: {self.longitude}")


def parse_geopoint(text: str | None) -> GeoPoint | None:
    """Parse an ODK ``geopoint`` answer (``"lat lon [alt [accuracy]]"``); None when blank or malformed.

    Collect writes the four numbers separated by single spaces (docs/protocol.md §13); an
    unanswered question is an empty string.
    """
    if not text or not text.strip():
        return None
    parts = text.split()
    if len(parts) < 2 or len(parts) > 4:
        return None
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        return None
    if not all(math.isfinite(number) for number in numbers):
        return None
    try:
        return GeoPoint(*numbers)
    except ValueError:
        return None


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two points given in decimal degrees.

    The haversine form stays accurate for the short distances we compare (tens to hundreds of metres),
    where the spherical law of cosines loses precision to rounding.
    """
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance in metres between two GeoPoints (altitude ignored)."""
    return haversine_m(a.latitude, a.longitude, b.latitude, b.longitude)
