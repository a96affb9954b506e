"""inspect_image and make_thumbnails on real files: good photos, rotated ones and hostile ones."""

from __future__ import annotations

import io
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import piexif
import pytest
from PIL import Image

from media.images import ImageProblem, UnreadableImage, inspect_image, make_thumbnails
from tests.media.photos import png_with_header_size, scene, write_jpeg

TAKEN = datetime(2024, 5, 1, 10, 30, 15)


def test_photo_with_exif_time_and_gps(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "1714530000000.jpg", taken=TAKEN, gps=(30.657912, 104.065735))
    report = inspect_image(path)
    assert report.readable and report.problems == ()
    assert (report.format, report.width, report.height) == ("JPEG", 640, 480)
    assert report.captured_at == TAKEN
    assert report.exif.captured_at_source == "DateTimeOriginal"
    assert report.latitude == pytest.approx(30.657912, abs=1e-5)
    assert report.longitude == pytest.approx(104.065735, abs=1e-5)
    assert report.orientation == 1
    assert report.exif.make == "Qingling Test Phone"


def test_photo_in_the_southern_and_western_hemispheres_has_negative_coordinates(tmp_path: Path) -> None:
    report = inspect_image(write_jpeg(tmp_path / "a.jpg", gps=(-33.4489, -70.6693)))
    assert report.latitude == pytest.approx(-33.4489, abs=1e-5)
    assert report.longitude == pytest.approx(-70.6693, abs=1e-5)


def test_capture_time_with_offset_is_timezone_aware(tmp_path: Path) -> None:
    report = inspect_image(write_jpeg(tmp_path / "a.jpg", taken=TAKEN, offset="+08:00"))
    assert report.captured_at == TAKEN.replace(tzinfo=timezone(timedelta(hours=8)))


def test_photo_without_exif(tmp_path: Path) -> None:
    report = inspect_image(write_jpeg(tmp_path / "plain.jpg"))
    assert report.readable
    assert report.captured_at is None
    assert report.latitude is None and report.longitude is None
    assert report.orientation == 1


def test_bad_exif_values_are_dropped_not_fatal(tmp_path: Path) -> None:
    raw = {
        piexif.GPSIFD.GPSLatitudeRef: b"N",
        piexif.GPSIFD.GPSLatitude: ((30, 0), (0, 0), (0, 0)),  # zero denominators
        piexif.GPSIFD.GPSLongitudeRef: b"E",
        piexif.GPSIFD.GPSLongitude: ((400, 1), (0, 1), (0, 1)),  # out of range
    }
    image = scene()
    out = io.BytesIO()
    exif = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Orientation: 99},
            "Exif": {piexif.ExifIFD.DateTimeOriginal: b"0000:00:00 00:00:00"},
            "GPS": raw,
        }
    )
    image.save(out, "JPEG", exif=exif)
    path = tmp_path / "odd.jpg"
    path.write_bytes(out.getvalue())
    report = inspect_image(path)
    assert report.readable
    assert report.latitude is None and report.longitude is None
    assert report.captured_at is None
    assert report.orientation == 1


def test_gps_zero_zero_means_no_fix(tmp_path: Path) -> None:
    report = inspect_image(write_jpeg(tmp_path / "a.jpg", gps=(0.0, 0.0)))
    assert report.latitude is None and report.longitude is None


def test_rotated_photo_reports_orientation_and_thumbnails_come_out_upright(tmp_path: Path) -> None:
    upright = Image.new("RGB", (300, 400), (220, 20, 20))  # portrait: red top half, blue bottom half
    upright.paste((20, 20, 220), (0, 200, 300, 400))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what the sensor wrote: landscape
    path = write_jpeg(
        tmp_path / "rotated.jpg", stored, orientation=6
    )  # 6 = turn 90 degrees clockwise to view
    report = inspect_image(path)
    assert report.orientation == 6
    assert (report.width, report.height) == (400, 300)
    assert report.display_size == (300, 400)
    thumbnail = Image.open(io.BytesIO(make_thumbnails(path, sizes=(256,))[256]))
    assert thumbnail.size == (192, 256)
    top, bottom = thumbnail.getpixel((96, 10)), thumbnail.getpixel((96, 245))
    assert top[0] > 180 and top[2] < 80, top
    assert bottom[2] > 180 and bottom[0] < 80, bottom


def test_thumbnails_sizes_format_and_no_metadata(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "big.jpg", scene((2000, 1500)), taken=TAKEN, gps=(30.6, 104.0))
    thumbnails = make_thumbnails(path)
    assert sorted(thumbnails) == [256, 1024]
    for size, data in thumbnails.items():
        image = Image.open(io.BytesIO(data))
        assert image.format == "JPEG"
        assert max(image.size) == size
        assert image.size[0] / image.size[1] == pytest.approx(4 / 3, abs=0.01)
        assert not image.getexif(), "thumbnails must not carry the household's GPS position"
    small = write_jpeg(tmp_path / "small.jpg", scene((200, 150)))
    assert Image.open(io.BytesIO(make_thumbnails(small)[1024])).size == (200, 150)  # never enlarged


def test_transparent_png_thumbnail_is_flattened_on_white(tmp_path: Path) -> None:
    path = tmp_path / "sig.png"
    Image.new("RGBA", (100, 50), (0, 0, 0, 0)).save(path)
    thumbnail = Image.open(io.BytesIO(make_thumbnails(path, sizes=(64,))[64]))
    assert thumbnail.getpixel((10, 10)) == pytest.approx((255, 255, 255), abs=3)


def test_truncated_jpeg(tmp_path: Path) -> None:
    data = write_jpeg(tmp_path / "whole.jpg", scene((800, 600))).read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) * 2 // 3])
    report = inspect_image(path)
    assert not report.readable
    assert report.reason == ImageProblem.TRUNCATED
    assert report.format == "JPEG" and report.width == 800  # the header was fine
    with pytest.raises(UnreadableImage) as raised:
        make_thumbnails(path)
    assert raised.value.problem == ImageProblem.TRUNCATED


@pytest.mark.parametrize("size", [(100_000, 100_000), (12_000, 9_000), (40_000, 10)])
def test_decompression_bomb_is_refused_before_decoding(tmp_path: Path, size: tuple[int, int]) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_with_header_size(*size))
    started = time.monotonic()
    report = inspect_image(path)
    assert time.monotonic() - started < 1
    assert not report.readable
    assert report.reason == ImageProblem.DECOMPRESSION_BOMB
    with pytest.raises(UnreadableImage):
        make_thumbnails(path)


def test_real_image_over_the_configured_pixel_limit(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "large.jpg", scene((1600, 1200)))
    assert inspect_image(path).readable
    report = inspect_image(path, max_pixels=1_000_000)
    assert report.reason == ImageProblem.DECOMPRESSION_BOMB
    assert "1,920,000" in report.details[0]


def test_png_named_jpg_is_readable_but_reported(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    scene().save(path, "PNG")
    report = inspect_image(path)
    assert report.readable
    assert report.format == "PNG"
    assert report.problems == (ImageProblem.EXTENSION_MISMATCH,)
    assert "PNG" in report.details[0] and ".jpg" in report.details[0]


def test_declared_name_is_checked_instead_of_the_spool_file_name(tmp_path: Path) -> None:
    path = write_jpeg(tmp_path / "upload-7f3a.part")
    assert inspect_image(path, declared_name="1714530000000.jpg").problems == ()
    assert inspect_image(path, declared_name="1714530000000.png").problems == (
        ImageProblem.EXTENSION_MISMATCH,
    )


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is text", b"<html><body>login</body></html>", b"\xff\xd8\xff" + b"\x00" * 50,
     bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8))],
    ids=["empty", "text", "html", "jpeg-magic-only", "random"],
)  # fmt: skip
def test_not_an_image(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "upload.jpg"
    path.write_bytes(content)
    report = inspect_image(path)
    assert not report.readable
    assert report.reason in (ImageProblem.NOT_AN_IMAGE, ImageProblem.TRUNCATED, ImageProblem.CORRUPT)
    if content in (b"", b"hello, this is text"):
        assert report.reason == ImageProblem.NOT_AN_IMAGE


def test_missing_file_is_reported_not_raised(tmp_path: Path) -> None:
    assert inspect_image(tmp_path / "gone.jpg").reason == ImageProblem.NOT_AN_IMAGE


def test_mangled_files_never_crash_or_stall(tmp_path: Path) -> None:
    """Cut and bit-flipped copies of a JPEG with EXIF and of a PNG: a report for every one, quickly."""
    rng = np.random.default_rng(7)
    jpeg = write_jpeg(tmp_path / "good.jpg", taken=TAKEN, gps=(30.6, 104.0), orientation=3).read_bytes()
    out = io.BytesIO()
    scene((320, 240)).save(out, "PNG")
    sources = [jpeg, out.getvalue()]
    started = time.monotonic()
    outcomes = set()
    for number in range(120):
        data = bytearray(sources[number % 2])
        if number % 3 == 0:
            data = data[: int(rng.integers(1, len(data)))]
        else:
            for position in rng.integers(0, len(data), int(rng.integers(1, 20))):
                data[position] = int(rng.integers(0, 256))
        path = tmp_path / f"mangled-{number}.jpg"
        path.write_bytes(bytes(data))
        report = inspect_image(path)
        outcomes.add(report.reason)
        if report.readable:
            make_thumbnails(path, sizes=(64,))  # a readable report means thumbnails work
    assert time.monotonic() - started < 20
    assert ImageProblem.TRUNCATED in outcomes and None in outcomes
