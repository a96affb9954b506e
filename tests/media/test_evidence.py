"""Evidence checks (docs/domain.md §3.6: EXIF time within the visit +/- 1 day, geotag within 300 m), geo helpers."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from media.evidence import EvidenceCheck, EvidenceLimits, check_photo_evidence, flagged_findings, time_gap
from media.geo import GeoPoint, distance_m, haversine_m, parse_geopoint
from media.images import ImageReport, inspect_image
from tests.media.photos import write_jpeg

CST = timezone(timedelta(hours=8))
HOUSE = GeoPoint(30.657912, 104.065735)
START = datetime(2024, 5, 1, 9, 0, tzinfo=CST)
END = datetime(2024, 5, 1, 10, 15, tzinfo=CST)
METRES_PER_DEGREE_LATITUDE = 2 * math.pi * 6_371_008.8 / 360


def north_of(point: GeoPoint, metres: float) -> GeoPoint:
    return GeoPoint(point.latitude + metres / METRES_PER_DEGREE_LATITUDE, point.longitude)


def photo(tmp_path: Path, **exif: object) -> ImageReport:
    """The report of a real JPEG carrying the given EXIF, as the worker would produce it."""
    report = inspect_image(write_jpeg(tmp_path / "photo.jpg", **exif))
    assert report.readable
    return report


def test_photo_taken_at_the_house_during_the_visit_passes_with_measurements(tmp_path: Path) -> None:
    report = photo(
        tmp_path, taken=datetime(2024, 5, 1, 9, 40), gps=(north_of(HOUSE, 40).latitude, HOUSE.longitude)
    )
    findings = check_photo_evidence(
        report,
        household_location=HOUSE,
        submission_location=north_of(HOUSE, 10),
        visit_start=START,
        visit_end=END,
    )
    assert [(f.check, f.reference, f.flagged) for f in findings] == [
        (EvidenceCheck.TAKEN_TOO_FAR_AWAY, "household", False),
        (EvidenceCheck.TAKEN_TOO_FAR_AWAY, "submission", False),
        (EvidenceCheck.TAKEN_FAR_FROM_VISIT_TIME, "visit", False),
    ]
    assert findings[0].distance_m == pytest.approx(40, abs=1)
    assert findings[1].distance_m == pytest.approx(30, abs=1)
    assert findings[2].time_gap == timedelta(0)
    assert "40 m" in findings[0].message
    assert flagged_findings(findings) == []


def test_photo_taken_far_from_the_registered_house_is_flagged(tmp_path: Path) -> None:
    far = north_of(HOUSE, 450)
    report = photo(tmp_path, gps=(far.latitude, far.longitude))
    [finding] = check_photo_evidence(report, household_location=HOUSE)
    assert finding.flagged
    assert finding.check == EvidenceCheck.TAKEN_TOO_FAR_AWAY
    assert finding.distance_m == pytest.approx(450, abs=2)
    assert finding.limit_m == 300
    assert "450 m" in finding.message


@pytest.mark.parametrize(
    ("metres", "limit", "flagged"), [(299, 300, False), (301, 300, True), (250, 200, True)]
)
def test_distance_limit_is_configurable(tmp_path: Path, metres: float, limit: float, flagged: bool) -> None:
    spot = north_of(HOUSE, metres)
    report = photo(tmp_path, gps=(spot.latitude, spot.longitude))
    [finding] = check_photo_evidence(
        report, household_location=HOUSE, limits=EvidenceLimits(max_distance_m=limit)
    )
    assert finding.flagged is flagged


def test_photo_without_geotag_or_time_gets_no_findings(tmp_path: Path) -> None:
    report = photo(tmp_path)
    findings = check_photo_evidence(
        report, household_location=HOUSE, submission_location=HOUSE, visit_start=START, visit_end=END
    )
    assert findings == []


def test_on_site_photo_without_geotag_is_flagged_as_such_not_as_far_away(tmp_path: Path) -> None:
    stripped = photo(tmp_path)  # no EXIF at all: forwarded through a chat app, or re-saved
    (finding,) = check_photo_evidence(stripped, submission_location=HOUSE, on_site=True)
    assert finding.check is EvidenceCheck.NO_GEOTAG and finding.flagged and finding.distance_m is None
    assert "no camera EXIF at all" in finding.message
    untagged = photo(tmp_path, taken=datetime(2024, 5, 1, 9, 30))  # the camera's EXIF, location tagging off
    (finding,) = check_photo_evidence(untagged, submission_location=HOUSE, on_site=True)
    assert finding.check is EvidenceCheck.NO_GEOTAG and "EXIF is there but without GPS" in finding.message
    tagged = photo(tmp_path, gps=(HOUSE.latitude, HOUSE.longitude))
    checks = [f.check for f in check_photo_evidence(tagged, submission_location=HOUSE, on_site=True)]
    assert checks == [EvidenceCheck.TAKEN_TOO_FAR_AWAY]  # measured (and within the limit), no geotag finding


@pytest.mark.parametrize(
    ("taken", "gap", "flagged"),
    [
        (datetime(2024, 5, 1, 9, 0), timedelta(0), False),  # at the start
        (datetime(2024, 5, 2, 6, 15), timedelta(hours=20), False),  # the next morning: within one day
        (datetime(2024, 4, 28, 9, 0), timedelta(days=3), True),  # an old photo
        (datetime(2024, 5, 2, 10, 16), timedelta(days=1, minutes=1), True),  # just over one day after the end
    ],
)
def test_time_gap_to_the_visit(tmp_path: Path, taken: datetime, gap: timedelta, flagged: bool) -> None:
    report = photo(tmp_path, taken=taken)  # naive EXIF time: the phone's local time, China Standard Time
    [finding] = check_photo_evidence(report, visit_start=START, visit_end=END)
    assert finding.check == EvidenceCheck.TAKEN_FAR_FROM_VISIT_TIME
    assert finding.time_gap == gap
    assert finding.flagged is flagged


def test_exif_offset_and_utc_visit_times_are_compared_as_instants(tmp_path: Path) -> None:
    report = photo(tmp_path, taken=datetime(2024, 5, 1, 3, 30), offset="+02:00")  # 01:30 UTC
    start_utc, end_utc = START.astimezone(UTC), END.astimezone(UTC)  # 01:00-02:15 UTC
    [finding] = check_photo_evidence(report, visit_start=start_utc, visit_end=end_utc)
    assert finding.time_gap == timedelta(0)


def test_time_tolerance_and_camera_offset_are_configurable(tmp_path: Path) -> None:
    report = photo(tmp_path, taken=datetime(2024, 5, 1, 14, 15))  # 4 h after the end, local time
    strict = EvidenceLimits(max_time_gap=timedelta(hours=2))
    [finding] = check_photo_evidence(report, visit_start=START, visit_end=END, limits=strict)
    assert finding.flagged and finding.time_gap == timedelta(hours=4)
    utc_camera = EvidenceLimits(max_time_gap=timedelta(hours=2), camera_utc_offset=timedelta(0))
    [finding] = check_photo_evidence(report, visit_start=START, visit_end=END, limits=utc_camera)
    assert finding.time_gap == timedelta(hours=12)


def test_time_gap_with_a_reversed_or_half_open_window() -> None:
    moment = datetime(2024, 5, 1, 12, 0, tzinfo=CST)
    assert time_gap(moment, END, START) == timedelta(hours=1, minutes=45)  # phone clock jumped back
    assert time_gap(moment, START, None) == timedelta(hours=3)
    assert time_gap(moment, None, END) == timedelta(hours=1, minutes=45)


def test_haversine_against_known_distances() -> None:
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195, rel=1e-4)  # one degree of latitude
    beijing, shanghai = (39.9042, 116.4074), (31.2304, 121.4737)
    assert haversine_m(*beijing, *shanghai) == pytest.approx(1_067_000, rel=0.005)
    assert distance_m(HOUSE, HOUSE) == 0
    assert haversine_m(0, 179.9995, 0, -179.9995) == pytest.approx(111.2, rel=0.01)  # across the date line


def test_parse_odk_geopoint() -> None:
    assert parse_geopoint("30.657912 104.065735 512.3 4.5") == GeoPoint(30.657912, 104.065735, 512.3, 4.5)
    assert parse_geopoint("30.6 104.0") == GeoPoint(30.6, 104.0)
    for bad in ("", "   ", None, "30.6", "north east", "95 10 0 0", "30 200", "nan 10", "1 2 3 4 5"):
        assert parse_geopoint(bad) is None, bad
