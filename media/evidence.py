"""Evidence checks on a photo: was it taken near the house, and near the time of the visit? (docs/domain.md §3.6)

Pure functions of an ImageReport and the expected place and time; the caller (``sync``) looks those up
(household registered location, the submission's geopoint, the form's ``start``/``end``) and stores the
findings. The rules are product rules [P]: "photo EXIF time within the submission's start-end window
+/- 1 day; geotag (if present) within 300 m of gps_house". A photo without a geotag or without an EXIF time
is not flagged by these checks (Collect may strip EXIF, and many phones record no position indoors);
whether the metadata is there at all is visible in the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import StrEnum

from media.geo import GeoPoint, distance_m
from media.images import ImageReport

DEFAULT_MAX_DISTANCE_M = 300.0
DEFAULT_MAX_TIME_GAP = timedelta(days=1)
DEFAULT_CAMERA_UTC_OFFSET = timedelta(hours=8)  # China Standard Time: phones write local time without offset


class EvidenceCheck(StrEnum):
    TAKEN_TOO_FAR_AWAY = "taken_too_far_away"
    TAKEN_FAR_FROM_VISIT_TIME = "taken_far_from_visit_time"
    NO_GEOTAG = "no_geotag"


@dataclass(frozen=True)
class EvidenceLimits:
    """The configurable thresholds: distance in metres, time tolerance around the visit window, and the
    UTC offset assumed for EXIF times that carry none."""

    max_distance_m: float = DEFAULT_MAX_DISTANCE_M
    max_time_gap: timedelta = DEFAULT_MAX_TIME_GAP
    camera_utc_offset: timedelta = DEFAULT_CAMERA_UTC_OFFSET


@dataclass(frozen=True)
class EvidenceFinding:
    """One measurement and whether it breaks its limit.

    ``reference`` says what the photo was compared with: ``household`` (registered location),
    ``submission`` (the form's geopoint) or ``visit`` (start-end window). ``distance_m`` or ``time_gap``
    carries the measured value; ``time_gap`` is zero inside the window and the distance to the nearer edge
    outside it.
    """

    check: EvidenceCheck
    reference: str
    flagged: bool
    message: str
    distance_m: float | None = None
    time_gap: timedelta | None = None
    limit_m: float | None = None
    limit_gap: timedelta | None = None


def check_photo_evidence(
    report: ImageReport,
    *,
    household_location: GeoPoint | None = None,
    submission_location: GeoPoint | None = None,
    visit_start: datetime | None = None,
    visit_end: datetime | None = None,
    limits: EvidenceLimits | None = None,
    on_site: bool = False,
) -> list[EvidenceFinding]:
    """Measure the photo against every expected place and time that is known; flag those over the limits.

    Returns one finding per comparison that could be made (so reviewers see "42 m from the house" too),
    in a stable order: household distance, submission distance, visit time. Use ``flagged_findings`` for
    only the failures. ``on_site``: the form asked for a photo taken at the place (it records where the
    visit happened); such a photo without a geotag gets a flagged NO_GEOTAG finding, since a camera that
    tags positions wrote one and a file without it was most often stripped (a chat app, an editor) or
    is not from the visit's camera at all. That is a different finding from a photo taken far away.
    """
    limits = limits or EvidenceLimits()
    findings: list[EvidenceFinding] = []
    position = _photo_position(report)
    if position is None and on_site:
        findings.append(_no_geotag_finding(report))
    if position is not None:
        for reference, expected in (("household", household_location), ("submission", submission_location)):
            if expected is not None:
                findings.append(_distance_finding(position, expected, reference, limits))
    taken = report.captured_at
    if taken is not None and (visit_start is not None or visit_end is not None):
        findings.append(_time_finding(taken, visit_start, visit_end, limits))
    return findings


def flagged_findings(findings: list[EvidenceFinding]) -> list[EvidenceFinding]:
    return [finding for finding in findings if finding.flagged]


def time_gap(moment: datetime, start: datetime | None, end: datetime | None) -> timedelta:
    """How far ``moment`` lies outside [start, end] (zero inside); a reversed window is read as swapped."""
    low, high = start or end, end or start
    assert low is not None and high is not None
    if high < low:
        low, high = high, low  # a phone clock changed mid-interview: trust neither order
    if moment < low:
        return low - moment
    if moment > high:
        return moment - high
    return timedelta(0)


def _photo_position(report: ImageReport) -> GeoPoint | None:
    if report.latitude is None or report.longitude is None:
        return None
    return GeoPoint(report.latitude, report.longitude)


def _no_geotag_finding(report: ImageReport) -> EvidenceFinding:
    if report.captured_at is None and not report.exif.make and not report.exif.model:
        why = "the file has no camera EXIF at all (stripped, e.g. forwarded through a chat app or re-saved)"
    else:
        why = "the camera's EXIF is there but without GPS (location tagging off, or the position removed)"
    return EvidenceFinding(
        check=EvidenceCheck.NO_GEOTAG,
        reference="submission",
        flagged=True,
        message=f"photo without a GPS position in its EXIF although taken for an on-site visit: {why}",
    )


def _distance_finding(
    photo: GeoPoint, expected: GeoPoint, reference: str, limits: EvidenceLimits
) -> EvidenceFinding:
    distance = distance_m(photo, expected)
    flagged = distance > limits.max_distance_m
    where = "the registered house location" if reference == "household" else "the submission's GPS point"
    verb = "more than" if flagged else "within"
    return EvidenceFinding(
        check=EvidenceCheck.TAKEN_TOO_FAR_AWAY,
        reference=reference,
        flagged=flagged,
        message=f"photo taken {distance:,.0f} m from {where} ({verb} {limits.max_distance_m:,.0f} m)",
        distance_m=distance,
        limit_m=limits.max_distance_m,
    )


def _time_finding(
    taken: datetime, start: datetime | None, end: datetime | None, limits: EvidenceLimits
) -> EvidenceFinding:
    camera_zone = timezone(limits.camera_utc_offset)
    taken = _aware(taken, camera_zone)
    gap = time_gap(taken, _aware(start, camera_zone), _aware(end, camera_zone))
    flagged = gap > limits.max_time_gap
    if gap == timedelta(0):
        message = "photo taken during the visit"
    else:
        message = f"photo taken {_describe(gap)} outside the visit ({'more than' if flagged else 'within'} "
        message += f"{_describe(limits.max_time_gap)})"
    return EvidenceFinding(
        check=EvidenceCheck.TAKEN_FAR_FROM_VISIT_TIME,
        reference="visit",
        flagged=flagged,
        message=message,
        time_gap=gap,
        limit_gap=limits.max_time_gap,
    )


def _aware(moment: datetime | None, zone: timezone) -> datetime | None:
    """Give naive times (EXIF without OffsetTime, or naive visit times) the camera's assumed offset."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=zone)


def _describe(gap: timedelta) -> str:
    hours = gap.total_seconds() / 3600
    if hours >= 48:
        return f"{hours / 24:.1f} days"
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{gap.total_seconds() / 60:.0f} min"
