"""The EXIF facts we use as evidence: capture time, GPS position, orientation, camera.

Every value in a photo's EXIF is attacker-controlled, and many honest phones write odd ones (zero
denominators, ``0000:00:00 00:00:00``, GPS ``0/0``), so each field is read on its own and a bad field
yields None instead of an exception: one broken tag must not hide the others.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from PIL import Image

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE, MODEL, SOFTWARE, DATETIME = 0x010F, 0x0110, 0x0131, 0x0132
DATETIME_ORIGINAL, DATETIME_DIGITIZED = 0x9003, 0x9004
OFFSET_TIME, OFFSET_TIME_ORIGINAL, OFFSET_TIME_DIGITIZED = 0x9010, 0x9011, 0x9012
GPS_LAT_REF, GPS_LAT, GPS_LON_REF, GPS_LON = 1, 2, 3, 4
GPS_TIME, GPS_DATE = 7, 29

_EXIF_TIME = re.compile(r"(\d{4}):(\d{2}):(\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


@dataclass(frozen=True)
class ExifFacts:
    """What a photo says about itself. ``captured_at`` is naive (camera local time) unless the file has an
    OffsetTime tag; ``captured_at_source`` names the tag it came from."""

    captured_at: datetime | None = None
    captured_at_source: str | None = None
    gps_time: datetime | None = None  # UTC, from GPSDateStamp + GPSTimeStamp (satellite clock)
    latitude: float | None = None
    longitude: float | None = None
    orientation: int = 1
    make: str | None = None
    model: str | None = None
    software: str | None = None
    unreadable: bool = False  # the EXIF block itself could not be parsed


def read_exif(image: Image.Image) -> ExifFacts:
    """Extract ExifFacts from an opened image; never raises for malformed metadata."""
    try:
        exif = image.getexif()
        main = dict(exif)
    except Exception:  # noqa: BLE001 - hostile metadata may break Pillow's parser in any way
        return ExifFacts(unreadable=True)
    details = _ifd(exif, EXIF_IFD)
    gps = _ifd(exif, GPS_IFD)
    captured_at, source = _capture_time(main, details)
    latitude = _coordinate(gps.get(GPS_LAT), gps.get(GPS_LAT_REF), ("N", "S"), 90.0)
    longitude = _coordinate(gps.get(GPS_LON), gps.get(GPS_LON_REF), ("E", "W"), 180.0)
    if latitude is None or longitude is None or (latitude == 0.0 and longitude == 0.0):
        # (0, 0) is what several phones write when they had no fix; nobody surveys the Gulf of Guinea.
        latitude = longitude = None
    orientation = main.get(ORIENTATION, 1)
    return ExifFacts(
        captured_at=captured_at,
        captured_at_source=source,
        gps_time=_gps_time(gps),
        latitude=latitude,
        longitude=longitude,
        orientation=orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1,
        make=_text(main.get(MAKE)),
        model=_text(main.get(MODEL)),
        software=_text(main.get(SOFTWARE)),
    )


def _ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    try:
        return dict(exif.get_ifd(tag))
    except Exception:  # noqa: BLE001 - a broken sub-IFD only loses its own fields
        return {}


def _capture_time(main: dict[int, Any], details: dict[int, Any]) -> tuple[datetime | None, str | None]:
    """DateTimeOriginal, else DateTimeDigitized, else DateTime (the last changes when software edits)."""
    candidates = (
        ("DateTimeOriginal", details.get(DATETIME_ORIGINAL), details.get(OFFSET_TIME_ORIGINAL)),
        ("DateTimeDigitized", details.get(DATETIME_DIGITIZED), details.get(OFFSET_TIME_DIGITIZED)),
        ("DateTime", main.get(DATETIME), details.get(OFFSET_TIME)),
    )
    for source, value, offset in candidates:
        moment = parse_exif_time(_text(value), _text(offset))
        if moment is not None:
            return moment, source
    return None, None


def parse_exif_time(value: str | None, offset: str | None = None) -> datetime | None:
    """``"2024:05:01 10:30:00"`` (+ optional ``"+08:00"``) as a datetime; None for blanks and zeros."""
    if not value:
        return None
    match = _EXIF_TIME.match(value.strip())
    if not match:
        return None
    try:
        moment = datetime(*(int(group) for group in match.groups()))
    except ValueError:
        return None  # 0000:00:00, month 13, ...
    if offset and (found := _OFFSET.fullmatch(offset.strip())):
        sign = -1 if found.group(1) == "-" else 1
        delta = timedelta(hours=int(found.group(2)), minutes=int(found.group(3)))
        if delta <= timedelta(hours=14):
            moment = moment.replace(tzinfo=timezone(sign * delta))
    return moment


def _coordinate(values: Any, ref: Any, refs: tuple[str, str], limit: float) -> float | None:
    """Degrees/minutes/seconds rationals plus an N/S or E/W reference, as signed decimal degrees."""
    try:
        degrees, minutes, seconds = (float(part) for part in tuple(values)[:3])
    except Exception:  # noqa: BLE001 - missing tag, wrong arity, bad rationals
        return None
    if not all(math.isfinite(part) and part >= 0 for part in (degrees, minutes, seconds)):
        return None
    value = degrees + minutes / 60.0 + seconds / 3600.0
    reference = (_text(ref) or refs[0]).upper()[:1]
    if reference not in refs:
        return None
    if reference == refs[1]:
        value = -value
    return round(value, 7) if -limit <= value <= limit else None


def _gps_time(gps: dict[int, Any]) -> datetime | None:
    date = _text(gps.get(GPS_DATE))
    if not date:
        return None
    try:
        hours, minutes, seconds = (float(part) for part in tuple(gps.get(GPS_TIME))[:3])
        day = datetime.strptime(date.strip(), "%Y:%m:%d").replace(tzinfo=UTC)
        if not all(math.isfinite(part) for part in (hours, minutes, seconds)):
            return None
        return day + timedelta(hours=hours, minutes=minutes, seconds=seconds)
    except Exception:  # noqa: BLE001
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None
