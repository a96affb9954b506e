"""Benchmark: what the ``photos`` job's two thumbnails (1024 and 256 px) cost per photo, by resampling filter and
JPEG encoding, and how far each variant's pixels are from a careful reference.

Run from the repository root:

    .venv/bin/python -m bench.thumbnails                   # 5 variants x 3 photos, rounds alternated
    .venv/bin/python -m bench.thumbnails --out /tmp/thumbs  # also writes every variant's thumbnails, to look at

Photos: bench/ingest.py's 1 MB JPEG (a noisy gradient at 1600 x 1200, what the load client's photos are
like: the 1024-pixel thumbnail needs more than half its size, so JPEG's DCT scaling cannot help) and
bench/photo_ingest.py's 5 MP scene (2592 x 1944, rendered house front with camera noise, decoded at half
scale), and a rendered document page of that size (fine lines and print: where a soft filter shows first).
Each variant runs ``make_thumbnails``' steps (``open_upright``, then the 1024 from the decoded photo and the
256 from the 1024) with its own filter, reducing gap and ``optimize``; the rounds alternate the variants so
that other work on the machine spreads over all of them. CPU is this process's ``time.process_time`` (one
thread). Distance: PSNR in dB of each thumbnail, decoded, against the same size made with LANCZOS from the
photo decoded at full scale, never JPEG-encoded (higher is closer).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bench.ingest import one_megabyte_jpeg
from bench.photo_ingest import PHOTO_SIZE, base_photo
from bench.photo_scenes import Scene, encode_jpeg, render
from media.images import THUMBNAIL_QUALITY, open_upright

SIZES = (1024, 256)


@dataclass(frozen=True)
class Variant:
    name: str
    resample: Image.Resampling
    reducing_gap: float | None
    optimize: bool


VARIANTS = (
    Variant("LANCZOS, gap 3, optimize (before)", Image.Resampling.LANCZOS, 3.0, True),
    Variant("LANCZOS, gap 3", Image.Resampling.LANCZOS, 3.0, False),
    Variant("BICUBIC, gap 2, optimize", Image.Resampling.BICUBIC, 2.0, True),
    Variant("BICUBIC, gap 2", Image.Resampling.BICUBIC, 2.0, False),
    Variant("BILINEAR, gap 2", Image.Resampling.BILINEAR, 2.0, False),
)


def thumbnails(path: Path, variant: Variant) -> dict[int, bytes]:
    image = open_upright(path, long_side=max(SIZES))
    made = {}
    for size in SIZES:
        image.thumbnail((size, size), variant.resample, reducing_gap=variant.reducing_gap)
        out = io.BytesIO()
        image.save(out, "JPEG", quality=THUMBNAIL_QUALITY, optimize=variant.optimize)
        made[size] = out.getvalue()
    return made


def references(path: Path) -> dict[int, np.ndarray]:
    with Image.open(path) as image:
        full = image.convert("RGB")
    found = {}
    for size in SIZES:
        copy = full.copy()
        copy.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=None)
        found[size] = np.asarray(copy, dtype=np.float64)
    return found


def psnr(data: bytes, reference: np.ndarray) -> float:
    with Image.open(io.BytesIO(data)) as image:
        pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
    if pixels.shape != reference.shape:
        return float("nan")
    mse = float(np.mean((pixels - reference) ** 2))
    return 10 * math.log10(255**2 / mse) if mse else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=5, help="thumbnail pairs per variant per round")
    parser.add_argument("--out", type=Path, default=None, help="write each variant's thumbnails here")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="qingling-thumbs-"))
    photos = {
        "1600 x 1200 noisy gradient, 1 MB": one_megabyte_jpeg(),
        "2592 x 1944 house front, 5 MP": base_photo(),
        "2592 x 1944 document page, 5 MP": encode_jpeg(render(Scene("document", 7), PHOTO_SIZE), quality=88),
    }
    paths = {}
    for number, (name, data) in enumerate(photos.items()):
        paths[name] = folder / f"photo{number}.jpg"
        paths[name].write_bytes(data)
    print(f"load average before: {os.getloadavg()[0]:.1f}", flush=True)
    cpu: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for name, path in paths.items():
            for variant in VARIANTS:
                began = time.process_time()
                for _ in range(args.repeats):
                    thumbnails(path, variant)
                cpu.setdefault((name, variant.name), []).append(1000 * (time.process_time() - began) / args.repeats)
    print(f"load average after: {os.getloadavg()[0]:.1f}\n")
    print("| photo | variant | CPU ms per photo (median of rounds) | bytes 1024 / 256 | PSNR dB 1024 / 256 |")
    print("|---|---|---:|---:|---:|")
    for name, path in paths.items():
        reference = references(path)
        decode_only = []
        for _ in range(args.repeats):
            began = time.process_time()
            open_upright(path, long_side=max(SIZES))
            decode_only.append(1000 * (time.process_time() - began))
        for variant in VARIANTS:
            made = thumbnails(path, variant)
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                for size, data in made.items():
                    (args.out / f"{path.stem}-{variant.name.split(',')[0]}-{variant.name.count('optimize')}-{size}.jpg"
                     ).write_bytes(data)
            print(
                f"| {name} | {variant.name} | {statistics.median(cpu[(name, variant.name)]):.1f} "
                f"| {len(made[1024]):,} / {len(made[256]):,} "
                f"| {psnr(made[1024], reference[1024]):.1f} / {psnr(made[256], reference[256]):.1f} |"
            )
        print(f"| {name} | decoding alone (`open_upright`) | {statistics.median(decode_only):.1f} | | |")


if __name__ == "__main__":
    main()
