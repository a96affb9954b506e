"""Checks on uploaded photos (can we read it, what is it, what does its EXIF say) and thumbnails.

Photos arrive from phones we do not control, so every file is treated as hostile: nothing in it may crash
or stall the worker. The guards, in the order they run:

1. only formats phones produce are even tried (``ACCEPTED_FORMATS``), so Pillow's rarer decoders never see
   uploaded bytes;
2. the pixel count from the header is checked against ``max_pixels`` before any decoding, which stops
   decompression bombs (a few KB of PNG declaring 50,000 x 50,000 pixels); Pillow's own
   ``DecompressionBombError`` is caught as the same finding;
3. the whole image is decoded once (JPEGs at 1/8 scale through ``draft``, which still reads every byte of
   the scan), which is how truncated and corrupt files show up;
4. EXIF is read field by field, after decoding (``media.exif``), so one broken tag costs only that tag.

``inspect_image`` never raises for bad input: it returns an ImageReport saying what was wrong.
"""

from __future__ import annotations

import io
import math
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from media.exif import ExifFacts, read_exif

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")
DEFAULT_MAX_PIXELS = 80_000_000  # a 64 MP phone photo passes; Pillow's own warning starts at 89.5 MP
MAX_SIDE = 30_000  # also refuse absurd single dimensions (e.g. 100,000 x 10)
THUMBNAIL_QUALITY = 82

Image.init()  # register every plugin once: Image.open(formats=...) fails on formats not yet registered

_JPEG_NAMES = {".jpg", ".jpeg", ".jpe", ".jfif"}
EXTENSIONS = {
    "JPEG": _JPEG_NAMES,
    "MPO": _JPEG_NAMES | {".mpo"},  # multi-picture JPEGs (phones' depth maps): Pillow opens them via JPEG
    "PNG": {".png"},
    "WEBP": {".webp"},
    "GIF": {".gif"},
    "TIFF": {".tif", ".tiff"},
    "BMP": {".bmp"},
}


class ImageProblem(StrEnum):
    """Why a photo is suspect: the first four make it unreadable, the rest are findings on a readable one."""

    NOT_AN_IMAGE = "not_an_image"
    DECOMPRESSION_BOMB = "decompression_bomb"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"
    EXTENSION_MISMATCH = "extension_mismatch"
    EXIF_UNREADABLE = "exif_unreadable"


FATAL_PROBLEMS = frozenset(
    {ImageProblem.NOT_AN_IMAGE, ImageProblem.DECOMPRESSION_BOMB, ImageProblem.TRUNCATED, ImageProblem.CORRUPT}
)


class UnreadableImage(ValueError):
    """Raised by the functions that need pixels (thumbnails, fingerprints) when there are none to be had."""

    def __init__(self, problem: ImageProblem, detail: str) -> None:
        super().__init__(f"{problem}: {detail}")
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class ImageReport:
    """What ``inspect_image`` found. ``width``/``height`` are stored pixels, before EXIF orientation."""

    readable: bool
    problems: tuple[ImageProblem, ...] = ()
    details: tuple[str, ...] = ()
    format: str | None = None
    width: int | None = None
    height: int | None = None
    exif: ExifFacts = field(default_factory=ExifFacts)

    @property
    def reason(self) -> ImageProblem | None:
        """The problem that made the file unreadable, or None for a readable image."""
        return next((problem for problem in self.problems if problem in FATAL_PROBLEMS), None)

    @property
    def orientation(self) -> int:
        return self.exif.orientation

    @property
    def captured_at(self) -> datetime | None:
        return self.exif.captured_at

    @property
    def latitude(self) -> float | None:
        return self.exif.latitude

    @property
    def longitude(self) -> float | None:
        return self.exif.longitude

    @property
    def display_size(self) -> tuple[int, int] | None:
        """(width, height) as shown, i.e. swapped for orientations 5-8 (rotated by 90 degrees)."""
        if self.width is None or self.height is None:
            return None
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601 strings) for storing beside the attachment row."""
        data = asdict(self)
        data["problems"] = [str(problem) for problem in self.problems]
        data["details"] = list(self.details)
        for name in ("captured_at", "gps_time"):
            value = data["exif"][name]
            data["exif"][name] = value.isoformat() if value is not None else None
        return data


def inspect_image(
    path: Path,
    *,
    declared_name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    formats: tuple[str, ...] = ACCEPTED_FORMATS,
) -> ImageReport:
    """Inspect a photo file: readable or not (and why), format, size, EXIF time, GPS and orientation.

    ``declared_name`` is the file name the phone sent (Collect names the part after the answer, e.g.
    ``1714530000000.jpg``); its extension is compared with the real format, so a PNG named ``.jpg`` is
    reported (EXTENSION_MISMATCH) but still read. ``max_pixels`` bounds decoding work and memory; it is
    effectively capped by Pillow's own limit (``2 * Image.MAX_IMAGE_PIXELS``).
    """
    path = Path(path)
    name = declared_name if declared_name is not None else path.name
    try:
        if path.stat().st_size == 0:
            return _unreadable(ImageProblem.NOT_AN_IMAGE, "the file is empty")
    except OSError as exc:
        return _unreadable(ImageProblem.NOT_AN_IMAGE, f"cannot read the file: {exc.strerror or exc}")

    problems: list[ImageProblem] = []
    details: list[str] = []
    fmt = width = height = None
    exif = ExifFacts()
    try:
        with Image.open(path, formats=formats) as image:
            fmt, (width, height) = image.format, image.size
            if mismatch := extension_mismatch(fmt, name):
                problems.append(ImageProblem.EXTENSION_MISMATCH)
                details.append(mismatch)
            if too_big := _too_big(width, height, max_pixels):
                return _unreadable(
                    ImageProblem.DECOMPRESSION_BOMB, too_big, fmt, width, height, problems, details
                )
            _decode(image)  # before EXIF: Pillow's PNG getexif() loads the image and would hide errors
            exif = read_exif(image)
            if exif.unreadable:
                problems.append(ImageProblem.EXIF_UNREADABLE)
                details.append("the EXIF block could not be parsed")
    except UnidentifiedImageError:
        kinds = ", ".join(formats)
        return _unreadable(ImageProblem.NOT_AN_IMAGE, f"not an image in an accepted format ({kinds})")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return _unreadable(ImageProblem.DECOMPRESSION_BOMB, str(exc), fmt, width, height, problems, details)
    except Exception as exc:  # noqa: BLE001 - decoders signal bad data with many exception types
        problem, detail = _classify_decode_error(exc)
        return _unreadable(problem, detail, fmt, width, height, problems, details)
    return ImageReport(
        readable=True,
        problems=tuple(problems),
        details=tuple(details),
        format=fmt,
        width=width,
        height=height,
        exif=exif,
    )


# Formats a browser shows as an image, and the type to declare for them (an MPO is a JPEG with extra frames).
DISPLAYABLE_TYPES = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}


def displayable_type(head: bytes) -> str | None:
    """The image type of a file whose first bytes open as a JPEG, PNG, GIF or WebP; None for anything else.

    Only the header is parsed, so ``head`` may be the start of a large file. What the phone declared plays
    no part: a file sent as ``text/html`` that opens as a JPEG is a JPEG, and an SVG is never an image here.
    """
    try:
        with Image.open(io.BytesIO(head), formats=("JPEG", "PNG", "GIF", "WEBP")) as image:
            return DISPLAYABLE_TYPES.get(image.format or "")
    except Exception:  # noqa: BLE001 - decoders signal bad data with many exception types
        return None


def make_thumbnails(
    path: Path,
    sizes: tuple[int, ...] = (256, 1024),
    *,
    quality: int = THUMBNAIL_QUALITY,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> dict[int, bytes]:
    """JPEG thumbnails whose longest side is at most each size, upright (EXIF orientation applied).

    Smaller originals are not enlarged. Thumbnails carry no EXIF, so a shared thumbnail never leaks the
    household's GPS position. Raises UnreadableImage when the file cannot be decoded (inspect first).

    Each smaller size is made from the one before (the 256 from the 1024), with BICUBIC: about 30 % less
    CPU than LANCZOS for both sizes (78-83 -> 54-58 ms for a 1600 x 1200 photo, whose decoding JPEG's DCT
    scaling cannot reduce; 63-67 -> 49 ms for a 5 MP one), its pixels 0.1-0.8 dB from LANCZOS's and no
    difference visible zoomed in, printed text included (bench/thumbnails.py, docs/performance.md
    "Photos"). BILINEAR would save 10 ms more but visibly softens the 256. ``optimize`` stays: a few
    milliseconds per photo for 2-16 % fewer bytes, sent to every reviewer who opens the photo.
    """
    if not sizes or min(sizes) <= 0:
        raise ValueError(f"thumbnail sizes must be positive, got {sizes}")
    image = open_upright(path, long_side=max(sizes), max_pixels=max_pixels)
    thumbnails = {}
    for size in sorted(set(sizes), reverse=True):
        image.thumbnail((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality, optimize=True)
        thumbnails[size] = out.getvalue()
    return thumbnails


def open_upright(
    path: Path,
    *,
    min_side: int | None = None,
    long_side: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Image.Image:
    """Decode a photo as an upright RGB image, JPEGs reduced by DCT scaling while both sides stay at least
    ``min_side``, or while the longest side stays at least ``long_side``.

    Shared by thumbnails and duplicate fingerprints: both want what a person sees (orientation applied,
    transparency flattened onto white), and neither needs all 12 million pixels of a phone photo.
    Thumbnails pass ``long_side`` (a 1024-pixel thumbnail of a 4:3 photo needs 1024 x 768): a 5 MP photo
    then decodes at half scale: 50 ms instead of 230 ms for both thumbnails (docs/performance.md, Photos).
    Raises UnreadableImage for anything ``inspect_image`` would call unreadable.
    """
    try:
        with Image.open(path, formats=ACCEPTED_FORMATS) as image:
            if too_big := _too_big(image.width, image.height, max_pixels):
                raise UnreadableImage(ImageProblem.DECOMPRESSION_BOMB, too_big)
            if image.format in ("JPEG", "MPO"):
                if min_side is not None:
                    image.draft("RGB", (min_side, min_side))
                elif long_side is not None and max(image.size) > long_side:
                    scale = long_side / max(image.size)
                    image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
            image.load()
            upright = _apply_orientation(image)
            return _flatten(upright)
    except UnreadableImage:
        raise
    except UnidentifiedImageError as exc:
        raise UnreadableImage(ImageProblem.NOT_AN_IMAGE, "not an image in an accepted format") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UnreadableImage(ImageProblem.DECOMPRESSION_BOMB, str(exc)) from exc
    except Exception as exc:  # noqa: BLE001
        raise UnreadableImage(*_classify_decode_error(exc)) from exc


def _decode(image: Image.Image) -> None:
    """Decode every byte of the first frame; JPEGs at 1/8 scale (same data read, an eighth of the pixels)."""
    if image.format in ("JPEG", "MPO"):
        image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
    image.load()


def _too_big(width: int, height: int, max_pixels: int) -> str | None:
    if width * height > max_pixels or width > MAX_SIDE or height > MAX_SIDE:
        return (
            f"{width} x {height} = {width * height:,} pixels exceeds the limit "
            f"({max_pixels:,} pixels, {MAX_SIDE:,} per side)"
        )
    return None


def extension_mismatch(fmt: str | None, name: str | None) -> str | None:
    """Why ``name`` does not fit a file of format ``fmt`` (e.g. a PNG named ``.jpg``), or None when it does.

    Public because the check depends on the name a phone gave one attachment, while the rest of the report
    depends only on the bytes: callers that cache reports per SHA-256 re-check names with this.
    """
    suffix = Path(name).suffix.lower() if name else ""
    if not suffix or fmt is None:
        return None
    if suffix not in EXTENSIONS.get(fmt, ()):
        return f"the file is {fmt} but is named {suffix}"
    return None


def _classify_decode_error(exc: BaseException) -> tuple[ImageProblem, str]:
    text = str(exc) or type(exc).__name__
    lowered = text.lower()
    if isinstance(exc, EOFError) or "truncated" in lowered or "premature end" in lowered:
        return ImageProblem.TRUNCATED, text
    if "decompressed data too large" in lowered or "too large" in lowered:
        return ImageProblem.DECOMPRESSION_BOMB, text  # e.g. PNG text chunks that inflate without bound
    if isinstance(exc, MemoryError):
        return ImageProblem.DECOMPRESSION_BOMB, "decoding ran out of memory"
    return ImageProblem.CORRUPT, f"{type(exc).__name__}: {text}"


def _apply_orientation(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a malformed orientation tag leaves the pixels as stored
        return image.copy()


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited onto white (the way viewers show a transparent PNG)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit / float greyscale (some TIFFs and PNGs): scale into 8 bits before converting.
        return ImageOps.autocontrast(image.convert("F").point(lambda v: v / 256).convert("L")).convert("RGB")
    return image.convert("RGB")


def _unreadable(
    problem: ImageProblem,
    detail: str,
    fmt: str | None = None,
    width: int | None = None,
    height: int | None = None,
    problems: list[ImageProblem] | None = None,
    details: list[str] | None = None,
) -> ImageReport:
    return ImageReport(
        readable=False,
        problems=(problem, *(problems or ())),
        details=(detail, *(details or ())),
        format=fmt,
        width=width,
        height=height,
    )


__all__ = [
    "ACCEPTED_FORMATS",
    "DEFAULT_MAX_PIXELS",
    "FATAL_PROBLEMS",
    "ImageProblem",
    "ImageReport",
    "UnreadableImage",
    "extension_mismatch",
    "inspect_image",
    "make_thumbnails",
    "open_upright",
]
