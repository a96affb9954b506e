"""Photos reused the way reused evidence is altered in the field, and the hard look-alikes, for benchmarks.

bench/photo_scenes.py draws the survey scenes and the *mild* alterations (one edit at a time). This module
builds the *field* set on the same scenes, larger (1024 x 768, as Collect's ``max-pixels=1600`` keeps a
phone photo well above that) and altered as reused evidence really is:

- the photos are taken with a watermark-camera app (水印相机) that burns the time, date, weather, place and
  coordinates into a block at the bottom left, a band across the bottom or a block at the top left;
- a reused copy gets two to four of: ``watermark`` (re-stamped: new time, date and place), ``mirror``,
  ``crop`` (6-12 % removed on each side, each side drawn on its own), ``tilt`` (3-6 degrees, straightened
  or with filled corners), ``shrink`` (to a quarter or a third of the side), ``recompress`` (JPEG quality
  25-60), ``grey``, ``contrast`` (x 1.3-1.8);
- hard negatives, each a distinct photo that must not be flagged: the **same house at a later visit** of
  the same household (camera a little moved, other light, a new stamp) and **houses of one government-built
  design in a row** (same body, colours and windows; other surroundings, wear, people and camera spot),
  each a different household.

Every file belongs to a household: an original and its later visit to the household that took them, each
reused copy to another household. Everything is deterministic for a seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFont, ImageOps

from bench.photo_scenes import (
    GREENS,
    KINDS,
    RENDERERS,
    ROOFS,
    WALLS,
    _colour,
    _photographic,
    _sky_and_ground,
    _straighten,
    _View,
    encode_jpeg,
)

FIELD_SIZE = (1024, 768)
FIELD_ALTERATIONS = ("watermark", "mirror", "crop", "tilt", "shrink", "recompress", "grey", "contrast")
STAMP_SHARE = 0.7  # share of originals taken with a watermark camera
PLACES = [
    "Guizhou Qiandongnan Leishan Danjiang Wudong Cun",
    "Guizhou Bijie Weining Shuanglong Zhen Xinfa Cun",
    "Yunnan Zhaotong Zhenxiong Yudong Xiang Gaopo Cun",
    "Gansu Dingxi Tongwei Pingxiang Zhen Shiquan Cun",
    "Sichuan Liangshan Zhaojue Sikai Xiang Baiyi Cun",
    "Guangxi Hechi Dahua Qibainong Xiang Nongyong Cun",
]
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class FieldScene:
    """A distinct photo of the field set: a scene, optionally a shared house ``design``, the household."""

    kind: str
    seed: int
    household: int
    viewpoint: int = 0  # 0 first visit, 2 later visit (same household)
    design: int | None = None  # row houses of one design share this seed


@dataclass(frozen=True)
class FieldPhoto:
    """One file: which distinct photo it shows, whose household it is attached to, which edits made it."""

    path: Path
    source: int  # index of the distinct photo it shows (itself for a distinct photo)
    household: int
    family: int  # distinct photos of one scene (first visit and later visit) share it
    kind: str
    role: str  # "original", "later_visit", "row_house" or "copy"
    alterations: tuple[str, ...] = ()
    description: str = ""


def field_scenes(originals: int, seed: int, *, later_share: float = 0.3, row_share: float = 0.35) -> list[FieldScene]:
    """``originals`` first-visit scenes cycling through the kinds, a later visit for ``later_share`` of them,
    and for ``row_share`` of the house scenes two or three more houses of the same design next door."""
    rng = np.random.default_rng([seed, 3])
    scenes: list[FieldScene] = []
    household = 0
    for index in range(originals):
        kind = KINDS[index % len(KINDS)]
        scene_seed = seed * 1_000_003 + index
        design = scene_seed if kind == "house" and rng.random() < row_share else None
        scenes.append(FieldScene(kind, scene_seed, household, 0, design))
        if rng.random() < later_share:
            scenes.append(FieldScene(kind, scene_seed, household, 2, design))
        household += 1
        if design is not None:
            for neighbour in range(int(rng.integers(2, 4))):
                scenes.append(FieldScene(kind, scene_seed * 7 + neighbour + 1, household, 0, design))
                household += 1
    return scenes


def render_field(scene: FieldScene, size: tuple[int, int] = FIELD_SIZE) -> Image.Image:
    """The distinct photo of a field scene, before any stamp."""
    layout = np.random.default_rng(scene.seed)
    camera = np.random.default_rng([scene.seed, scene.viewpoint, 7])
    view = _later_view(camera) if scene.viewpoint == 2 else _View.pick(camera, 0)
    if scene.design is not None:
        view = _neighbour_view(camera) if scene.seed != scene.design else view
        image = _row_house(np.random.default_rng(scene.design), layout, view, size)
    else:
        image = RENDERERS[scene.kind](layout, view, size)
    return _photographic(image, camera, view)


def make_field_family(
    directory: Path, scene_index: int, scene: FieldScene, seed: int, copies: int, first_household: int, family: int
) -> list[FieldPhoto]:
    """A distinct photo (stamped or not) and ``copies`` reused copies, each for another household."""
    rng = np.random.default_rng([seed, scene_index, 5])
    image = render_field(scene)
    moment = datetime(2026, 3, 1, 8) + timedelta(minutes=int(rng.integers(0, 60 * 24 * 60)))
    if scene.viewpoint == 2:
        moment += timedelta(days=int(rng.integers(60, 300)))
    if rng.random() < STAMP_SHARE:
        image = stamp(image, rng, moment, PLACES[scene.household % len(PLACES)])
    role = (
        "later_visit" if scene.viewpoint == 2 else "row_house" if scene.design not in (None, scene.seed) else "original"
    )
    path = directory / f"f{scene_index:05d}.jpg"
    path.write_bytes(encode_jpeg(image, int(rng.integers(85, 95))))
    photos = [FieldPhoto(path, scene_index, scene.household, family, scene.kind, role, (), role)]
    for number in range(copies):
        copy_rng = np.random.default_rng([seed, scene_index, number, 13])
        altered, quality, steps, text = alter_field(image, copy_rng)
        copy = directory / f"f{scene_index:05d}-c{number}.jpg"
        copy.write_bytes(encode_jpeg(altered, quality))
        photos.append(FieldPhoto(copy, scene_index, first_household + number, family, scene.kind, "copy", steps, text))
    return photos


def alter_field(image: Image.Image, rng: np.random.Generator) -> tuple[Image.Image, int, tuple[str, ...], str]:
    """Two to four field alterations in a plausible order (edit, then stamp, then shrink and send)."""
    count = int(rng.integers(2, 5))
    chosen = set(rng.choice(FIELD_ALTERATIONS, size=count, replace=False).tolist())
    order = [
        a for a in ("mirror", "crop", "tilt", "contrast", "grey", "watermark", "shrink", "recompress") if a in chosen
    ]
    quality = int(rng.integers(80, 93))
    texts = []
    out = image
    for step in order:
        if step == "mirror":
            out = ImageOps.mirror(out)
            texts.append("mirrored")
        elif step == "crop":
            w, h = out.size
            left, top, right, bottom = (float(v) for v in rng.uniform(0.06, 0.12, 4))
            out = out.crop((round(w * left), round(h * top), round(w * (1 - right)), round(h * (1 - bottom))))
            texts.append(f"crop {left:.0%}/{top:.0%}/{right:.0%}/{bottom:.0%}")
        elif step == "tilt":
            angle = float(rng.uniform(3.0, 6.0)) * (1 if rng.random() < 0.5 else -1)
            if rng.random() < 0.6:
                out = _straighten(out, angle)
                texts.append(f"tilt {angle:+.1f} deg, straightened")
            else:
                out = out.rotate(angle, Image.Resampling.BICUBIC, expand=False, fillcolor=(0, 0, 0))
                texts.append(f"tilt {angle:+.1f} deg, corners filled")
        elif step == "contrast":
            factor = float(rng.uniform(1.3, 1.8))
            out = ImageEnhance.Contrast(out).enhance(factor)
            texts.append(f"contrast x{factor:.2f}")
        elif step == "grey":
            out = out.convert("L").convert("RGB")
            texts.append("grey")
        elif step == "watermark":
            moment = datetime(2026, 6, 1, 8) + timedelta(minutes=int(rng.integers(0, 60 * 24 * 120)))
            out = stamp(out, rng, moment, PLACES[int(rng.integers(len(PLACES)))])
            texts.append("re-stamped")
        elif step == "shrink":
            scale = float(rng.uniform(0.25, 1 / 3))
            out = out.resize(
                (max(16, round(out.width * scale)), max(16, round(out.height * scale))), Image.Resampling.BICUBIC
            )
            texts.append(f"shrink x{scale:.2f}")
        elif step == "recompress":
            quality = int(rng.integers(25, 61))
            texts.append(f"q{quality}")
    return out, quality, tuple(order), ", ".join(texts)


def stamp(image: Image.Image, rng: np.random.Generator, moment: datetime, place: str) -> Image.Image:
    """Burn a watermark-camera stamp into the picture: big time, date and weekday, weather, place, GPS.

    Three layouts seen in the common apps: a block at the bottom left with a coloured bar, a translucent
    band across the bottom, a block at the top left. The text scales with the picture.
    """
    out = image.convert("RGBA")
    w, h = out.size
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    unit = h / 768
    big = ImageFont.load_default(size=max(10, round(64 * unit)))
    small = ImageFont.load_default(size=max(8, round(22 * unit)))
    lat, lon = float(rng.uniform(24, 35)), float(rng.uniform(100, 110))
    lines = [
        f"{moment:%Y-%m-%d} {WEEKDAYS[moment.weekday()]}  {['Qing', 'Duoyun', 'Yin', 'Xiaoyu'][int(rng.integers(4))]} "
        f"{int(rng.integers(-2, 30))}C",
        place,
        f"N{lat:.5f}  E{lon:.5f}  Alt {int(rng.integers(300, 2400))}m",
    ]
    layout = int(rng.integers(3))
    accent = [(255, 196, 0), (0, 160, 255), (230, 60, 50)][int(rng.integers(3))]
    line_h = round(28 * unit)
    block_h = round(72 * unit) + line_h * len(lines) + round(12 * unit)
    if layout == 1:  # translucent band across the bottom
        top = h - block_h - round(10 * unit)
        draw.rectangle([0, top, w, h], fill=(0, 0, 0, int(rng.integers(90, 160))))
        x0, y0 = round(24 * unit), top + round(8 * unit)
    elif layout == 0:  # block at the bottom left
        x0, y0 = round(28 * unit), h - block_h - round(24 * unit)
    else:  # block at the top left
        x0, y0 = round(28 * unit), round(24 * unit)
    draw.rectangle([x0, y0 + round(8 * unit), x0 + round(6 * unit), y0 + round(64 * unit)], fill=accent + (255,))
    shadow = (0, 0, 0, 160)
    time_text = f"{moment:%H:%M}"
    for dx, dy, colour in ((2, 2, shadow), (0, 0, (255, 255, 255, 255))):
        draw.text((x0 + round(16 * unit) + dx, y0 + dy), time_text, font=big, fill=colour)
        for number, line in enumerate(lines):
            y = y0 + round(76 * unit) + number * line_h
            draw.text((x0 + dx, y + dy), line, font=small, fill=colour)
    return Image.alpha_composite(out, layer).convert("RGB")


def _later_view(rng: np.random.Generator) -> _View:
    """A later visit: the enumerator stands about where they stood before; other light and season."""
    side = 1 if rng.random() < 0.5 else -1
    return _View(
        shift=side * float(rng.uniform(0.04, 0.12)),
        zoom=float(rng.uniform(0.88, 1.12)),
        parallax=side * float(rng.uniform(0.01, 0.04)),
        light=float(rng.uniform(0.8, 1.15)),
        tint=tuple(float(v) for v in rng.uniform(0.9, 1.1, 3)),  # type: ignore[arg-type]
    )


def _neighbour_view(rng: np.random.Generator) -> _View:
    """The next house of the row, photographed from the road in front of it as its own front."""
    return _View(
        shift=float(rng.uniform(-0.1, 0.1)),
        zoom=float(rng.uniform(0.85, 1.15)),
        parallax=float(rng.uniform(-0.08, 0.08)),
        light=float(rng.uniform(0.85, 1.12)),
        tint=tuple(float(v) for v in rng.uniform(0.93, 1.07, 3)),  # type: ignore[arg-type]
    )


def _row_house(
    design: np.random.Generator, layout: np.random.Generator, view: _View, size: tuple[int, int]
) -> Image.Image:
    """A house of a standard design (``design``: body, roof, colours, windows) in its own surroundings
    (``layout``: sky, hills, trees, wear on the walls, people, things in the yard, the neighbours' gables)."""
    w, h = size
    image, horizon = _sky_and_ground(layout, view, size)
    draw = ImageDraw.Draw(image)
    left_x, right_x = float(design.uniform(0.2, 0.3)), float(design.uniform(0.7, 0.8))
    base_y, top_y = float(design.uniform(0.8, 0.88)), float(design.uniform(0.4, 0.5))
    wall, roof = _colour(design, WALLS, 8), _colour(design, ROOFS, 8)
    windows = [(float(design.uniform(0.08, 0.22)) + 0.33 * i, float(design.uniform(0.18, 0.3))) for i in range(3)]
    door_share = float(design.uniform(0.42, 0.5))
    pitched = design.random() < 0.6
    for side in (-1, 1):  # the neighbours' houses at the edges of the frame, same design
        nx = view.x(0.5 + side * 0.78, w)
        half = (right_x - left_x) * w * view.zoom / 2
        draw.rectangle([nx - half, view.y(top_y, h), nx + half, view.y(base_y, h)], fill=wall)
    for _ in range(int(layout.integers(1, 4))):  # trees, behind or beside
        tx, ty = view.x(float(layout.uniform(0.0, 1.0)), w), view.y(float(layout.uniform(0.45, 0.7)), h)
        r = float(layout.uniform(0.05, 0.1)) * w * view.zoom
        draw.rectangle([tx - r * 0.1, ty, tx + r * 0.1, ty + r * 1.5], fill=(90, 70, 50))
        draw.ellipse([tx - r, ty - r * 1.4, tx + r, ty + r * 0.4], fill=_colour(layout, GREENS))
    left, right = view.x(left_x, w), view.x(right_x, w)
    base, top = view.y(base_y, h), view.y(top_y, h)
    draw.rectangle([left, top, right, base], fill=wall)
    for _ in range(int(layout.integers(3, 9))):  # weathering: damp patches, stains, a poster
        sx, sy = (
            left + (right - left) * float(layout.uniform(0, 0.9)),
            top + (base - top) * float(layout.uniform(0, 0.9)),
        )
        r = float(layout.uniform(8, 40)) * view.zoom
        shade = tuple(int(max(0, min(255, c + layout.integers(-45, 20)))) for c in wall)
        draw.ellipse([sx - r, sy - r * 0.7, sx + r, sy + r * 0.7], fill=shade)
    overhang = (right - left) * 0.06
    if pitched:
        peak = top - (base - top) * 0.4
        draw.polygon([(left - overhang, top), (right + overhang, top), ((left + right) / 2, peak)], fill=roof)
    else:
        draw.rectangle([left - overhang, top - (base - top) * 0.1, right + overhang, top], fill=roof)
    door_x = left + (right - left) * door_share
    door_w = (right - left) * 0.12
    draw.rectangle([door_x, base - (base - top) * 0.6, door_x + door_w, base], fill=_colour(layout, ROOFS, 50))
    for wx_share, wy_share in windows:
        wx, wy = left + (right - left) * wx_share, top + (base - top) * wy_share
        ww, wh = (right - left) * 0.13, (base - top) * 0.24
        curtain = _colour(layout, WALLS + ROOFS, 40)
        draw.rectangle([wx, wy, wx + ww, wy + wh], fill=(60, 70, 80), outline=(230, 230, 230), width=3)
        draw.rectangle([wx + 3, wy + 3, wx + ww * float(layout.uniform(0.2, 0.6)), wy + wh - 3], fill=curtain)
    for _ in range(int(layout.integers(1, 5))):  # the yard: sacks, a bicycle, firewood, buckets
        ox = view.x(float(layout.uniform(0.05, 0.95)), w)
        r = float(layout.uniform(12, 40)) * view.zoom
        draw.rectangle([ox - r, base - r * 1.2, ox + r, base + r * 0.4], fill=_colour(layout, WALLS + ROOFS, 50))
    if layout.random() < 0.7:  # the household head in front (docs/domain.md §2.3)
        px = door_x + door_w * float(layout.uniform(1.5, 3.5))
        ph = (base - top) * float(layout.uniform(0.6, 0.8))
        draw.ellipse([px - ph * 0.08, base - ph, px + ph * 0.08, base - ph * 0.82], fill=(200, 160, 130))
        draw.rectangle([px - ph * 0.12, base - ph * 0.82, px + ph * 0.12, base], fill=_colour(layout, ROOFS, 60))
    if layout.random() < 0.5:
        draw.line([0, horizon * float(layout.uniform(0.3, 0.6)), w, horizon * float(layout.uniform(0.3, 0.6))],
                  fill=(30, 30, 30), width=2)  # fmt: skip
    return image
