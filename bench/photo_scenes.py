"""Synthetic survey "photos" and the alterations people apply when they reuse one, for duplicate benchmarks.

No real household photos can leave the field, so the labelled set is made here: textured scenes of the
kinds a survey collects (house fronts, site surroundings, kitchens, document pages, water samples, wall
close-ups), rendered with Pillow and numpy from a seed. Some scenes are rendered twice from a different
spot (``viewpoint`` > 0): same house, same colours, camera moved and light changed. Those pairs are
*distinct* photos that look alike, the hard negatives a duplicate detector must not flag.

``alter`` applies one reuse alteration with a randomised strength: resize, recompress, crop, tilt,
border, brighten, or a combination (as a photo forwarded through a chat app and edited). Everything is
deterministic for a given seed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

SIZE = (640, 480)
KINDS = ("house", "site", "kitchen", "document", "water", "wall")
ALTERATIONS = ("resize", "recompress", "crop", "tilt", "border", "brighten", "combined")

WALLS = [(176, 74, 58), (214, 206, 190), (150, 150, 146), (196, 160, 104), (232, 228, 220), (120, 96, 80)]
ROOFS = [(70, 70, 76), (150, 60, 44), (96, 110, 120), (40, 44, 40), (130, 100, 70)]
GREENS = [(70, 110, 50), (96, 130, 60), (50, 90, 60), (120, 140, 80)]


@dataclass(frozen=True)
class Scene:
    """A scene description: ``kind`` and a seed fix what is in it; ``viewpoint`` moves the camera."""

    kind: str
    seed: int
    viewpoint: int = 0


@dataclass(frozen=True)
class LabelledPhoto:
    """One file of the labelled set: which original it comes from and which alteration made it."""

    path: Path
    original: int  # index of the distinct photo it shows
    scene: Scene
    alteration: str | None  # None for the original itself
    description: str = ""


def scenes_for(originals: int, seed: int, sibling_share: float = 0.3) -> list[Scene]:
    """``originals`` scenes cycling through the kinds, plus a second viewpoint for ``sibling_share`` of them.

    The second viewpoints are extra distinct photos (the same house from another spot), so the set holds
    about ``originals * (1 + sibling_share)`` distinct photos.
    """
    rng = np.random.default_rng([seed, 1])
    scenes = []
    for index in range(originals):
        scene = Scene(KINDS[index % len(KINDS)], seed * 1_000_003 + index)
        scenes.append(scene)
        if rng.random() < sibling_share:
            scenes.append(Scene(scene.kind, scene.seed, viewpoint=1))
    return scenes


def make_labelled_set(
    directory: Path,
    originals: int,
    seed: int,
    *,
    sibling_share: float = 0.3,
    alterations: tuple[str, ...] = ALTERATIONS,
) -> list[LabelledPhoto]:
    """Render the distinct photos and one altered copy per alteration of each, as JPEGs in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    photos = []
    for index, scene in enumerate(scenes_for(originals, seed, sibling_share)):
        photos.extend(make_photo_family(directory, index, scene, seed, alterations))
    return photos


def make_photo_family(
    directory: Path, index: int, scene: Scene, seed: int, alterations: tuple[str, ...] = ALTERATIONS
) -> list[LabelledPhoto]:
    """One distinct photo and its altered copies (the unit of work the benchmark spreads over processes)."""
    image = render(scene)
    path = directory / f"p{index:05d}.jpg"
    path.write_bytes(encode_jpeg(image))
    family = [LabelledPhoto(path, index, scene, None, "original")]
    for number, alteration in enumerate(alterations):
        rng = np.random.default_rng([seed, index, number, 11])
        altered, quality, description = alter(image, alteration, rng)
        copy = directory / f"p{index:05d}-{alteration}.jpg"
        copy.write_bytes(encode_jpeg(altered, quality))
        family.append(LabelledPhoto(copy, index, scene, alteration, description))
    return family


def render(scene: Scene, size: tuple[int, int] = SIZE) -> Image.Image:
    """Draw the scene as an RGB photo-like image (texture, lighting, sensor noise)."""
    layout = np.random.default_rng(scene.seed)  # what is in the scene: same for every viewpoint
    camera = np.random.default_rng([scene.seed, scene.viewpoint, 7])  # where the camera stands
    view = _View.pick(camera, scene.viewpoint)
    image = RENDERERS[scene.kind](layout, view, size)
    return _photographic(image, camera, view)


def encode_jpeg(image: Image.Image, quality: int = 92) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def alter(image: Image.Image, alteration: str, rng: np.random.Generator) -> tuple[Image.Image, int, str]:
    """Apply one alteration; returns the altered image, the JPEG quality to save it at, and a description."""
    quality = int(rng.integers(80, 96))
    if alteration == "resize":
        scale = float(rng.uniform(0.25, 0.8))
        resample = [Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS][
            rng.integers(3)
        ]
        size = (max(16, round(image.width * scale)), max(16, round(image.height * scale)))
        return image.resize(size, resample), quality, f"resize x{scale:.2f}"
    if alteration == "recompress":
        low = int(rng.integers(12, 45))
        once = Image.open(io.BytesIO(encode_jpeg(image, int(rng.integers(40, 70))))).convert("RGB")
        return once, low, f"recompress q{low}"
    if alteration == "crop":
        return _crop_q(image, rng, quality)
    if alteration == "tilt":
        angle = float(rng.uniform(1.0, 5.0)) * (1 if rng.random() < 0.5 else -1)
        if rng.random() < 0.5:
            return _straighten(image, angle), quality, f"tilt {angle:+.1f} deg, cropped"
        fill = tuple(int(v) for v in rng.integers(0, 256, 3)) if rng.random() < 0.3 else (0, 0, 0)
        tilted = image.rotate(angle, Image.Resampling.BICUBIC, expand=False, fillcolor=fill)
        return tilted, quality, f"tilt {angle:+.1f} deg, corners filled"
    if alteration == "border":
        return _border(image, rng), quality, "border"
    if alteration == "brighten":
        factor = float(rng.uniform(1.15, 1.5)) if rng.random() < 0.7 else float(rng.uniform(0.6, 0.85))
        contrast = float(rng.uniform(0.85, 1.2))
        out = ImageEnhance.Contrast(ImageEnhance.Brightness(image).enhance(factor)).enhance(contrast)
        return out, quality, f"brightness x{factor:.2f}, contrast x{contrast:.2f}"
    if alteration == "combined":
        steps = []
        out = image
        for step in rng.permutation(["resize", "crop", "brighten", "tilt", "border"])[
            : int(rng.integers(2, 4))
        ]:
            out, _, text = alter(out, str(step), rng)
            steps.append(text)
        low = int(rng.integers(30, 70))
        return out, low, " + ".join(steps) + f" + q{low}"
    raise ValueError(f"unknown alteration {alteration!r}")


def _crop_q(image: Image.Image, rng: np.random.Generator, quality: int) -> tuple[Image.Image, int, str]:
    total = float(rng.uniform(0.03, 0.10))
    out, text = _crop(image, rng, total)
    return out, quality, text


def _crop(image: Image.Image, rng: np.random.Generator, total: float) -> tuple[Image.Image, str]:
    """Remove ``total`` of each dimension, split at random between the two sides."""
    w, h = image.size
    left_share, top_share = rng.uniform(0, 1, 2)
    horizontal = total * float(rng.uniform(0.5, 1.0))
    vertical = total * float(rng.uniform(0.5, 1.0))
    left = round(w * horizontal * left_share)
    right = w - round(w * horizontal * (1 - left_share))
    top = round(h * vertical * top_share)
    bottom = h - round(h * vertical * (1 - top_share))
    return image.crop((left, top, right, bottom)), f"crop {horizontal:.0%} x {vertical:.0%}"


def _straighten(image: Image.Image, angle: float) -> Image.Image:
    """Rotate and crop to the largest upright rectangle with the same aspect: a phone's "straighten"."""
    w, h = image.size
    rotated = image.rotate(angle, Image.Resampling.BICUBIC, expand=False)
    a = math.radians(abs(angle))
    scale = 1 / (math.cos(a) + max(w / h, h / w) * math.sin(a))
    cw, ch = w * scale, h * scale
    box = (round((w - cw) / 2), round((h - ch) / 2), round((w + cw) / 2), round((h + ch) / 2))
    return rotated.crop(box)


def _border(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = image.size
    width = max(2, round(min(w, h) * float(rng.uniform(0.03, 0.12))))
    palette = [(255, 255, 255), (0, 0, 0), (245, 240, 230)]
    colour = (
        palette[rng.integers(3)] if rng.random() < 0.7 else tuple(int(v) for v in rng.integers(0, 256, 3))
    )
    framed = Image.new("RGB", (w + 2 * width, h + 2 * width), colour)
    framed.paste(image, (width, width))
    if rng.random() < 0.3:  # a second, inner line, like a mount or a chat app's frame
        inner = max(1, width // 4)
        draw = ImageDraw.Draw(framed)
        line_colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        draw.rectangle([width - inner, width - inner, width + w + inner - 1, width + h + inner - 1],
                       outline=line_colour, width=inner)  # fmt: skip
        framed.paste(image, (width, width))
    return framed


# -- scenes -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _View:
    """Camera placement: horizontal shift and zoom of the foreground, parallax on the background, light."""

    shift: float
    zoom: float
    parallax: float
    light: float
    tint: tuple[float, float, float]

    @classmethod
    def pick(cls, rng: np.random.Generator, viewpoint: int) -> _View:
        if viewpoint == 0:
            return cls(0.0, 1.0, 0.0, 1.0, (1.0, 1.0, 1.0))
        side = 1 if rng.random() < 0.5 else -1
        return cls(
            shift=side * float(rng.uniform(0.12, 0.28)),
            zoom=float(rng.uniform(0.75, 1.3)),
            parallax=side * float(rng.uniform(0.03, 0.08)),
            light=float(rng.uniform(0.8, 1.15)),
            tint=tuple(float(v) for v in rng.uniform(0.92, 1.08, 3)),  # type: ignore[arg-type]
        )

    def x(self, value: float, w: int, depth: float = 1.0) -> float:
        """Screen x of a scene point at ``value`` (0..1 across the frame) at a depth (1 = foreground)."""
        centre = 0.5 + (value - 0.5) * (self.zoom if depth >= 1 else 1.0)
        return (centre + (self.shift if depth >= 1 else self.parallax)) * w

    def y(self, value: float, h: int, anchor: float = 0.75) -> float:
        return (anchor + (value - anchor) * self.zoom) * h


def _colour(
    rng: np.random.Generator, palette: list[tuple[int, int, int]], jitter: int = 18
) -> tuple[int, ...]:
    base = np.array(palette[rng.integers(len(palette))])
    return tuple(int(v) for v in np.clip(base + rng.integers(-jitter, jitter + 1, 3), 0, 255))


def _gradient(size: tuple[int, int], top: tuple[int, ...], bottom: tuple[int, ...]) -> Image.Image:
    w, h = size
    t = np.linspace(0, 1, h)[:, None, None]
    rows = (1 - t) * np.array(top)[None, None, :] + t * np.array(bottom)[None, None, :]
    return Image.fromarray(np.repeat(rows, w, axis=1).astype(np.uint8), "RGB")


def _sky_and_ground(rng: np.random.Generator, view: _View, size: tuple[int, int]) -> tuple[Image.Image, int]:
    w, h = size
    horizon = int(view.y(float(rng.uniform(0.45, 0.62)), h, anchor=0.5))
    sky_top = tuple(int(v) for v in rng.integers([90, 130, 180], [150, 190, 240]))
    image = _gradient(size, sky_top, (210, 220, 230))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(2, 5))):  # distant hills, moved only by parallax
        cx = view.x(float(rng.uniform(-0.2, 1.2)), w, depth=0)
        width, height = rng.uniform(0.3, 0.8) * w, rng.uniform(0.08, 0.2) * h
        draw.ellipse(
            [cx - width, horizon - height, cx + width, horizon + height], fill=_colour(rng, GREENS, 25)
        )
    ground = _colour(rng, [(130, 110, 80), (110, 120, 70), (150, 140, 120)], 20)
    draw.rectangle([0, horizon, w, h], fill=ground)
    return image, horizon


def _house(layout: np.random.Generator, view: _View, size: tuple[int, int]) -> Image.Image:
    w, h = size
    image, horizon = _sky_and_ground(layout, view, size)
    draw = ImageDraw.Draw(image)
    for _ in range(int(layout.integers(1, 4))):  # trees
        tx, ty = view.x(float(layout.uniform(0.0, 1.0)), w), view.y(float(layout.uniform(0.5, 0.75)), h)
        r = float(layout.uniform(0.05, 0.12)) * w * view.zoom
        draw.rectangle([tx - r * 0.1, ty, tx + r * 0.1, ty + r * 1.5], fill=(90, 70, 50))
        draw.ellipse([tx - r, ty - r * 1.4, tx + r, ty + r * 0.4], fill=_colour(layout, GREENS))
    left, right = view.x(float(layout.uniform(0.12, 0.35)), w), view.x(float(layout.uniform(0.65, 0.88)), w)
    base = view.y(float(layout.uniform(0.78, 0.9)), h)
    top = view.y(float(layout.uniform(0.38, 0.55)), h)
    wall = _colour(layout, WALLS)
    draw.rectangle([left, top, right, base], fill=wall)
    if layout.random() < 0.5:  # brick courses
        for y in np.arange(top, base, max(3.0, 6 * view.zoom)):
            draw.line([left, y, right, y], fill=tuple(max(0, c - 30) for c in wall), width=1)
    overhang = (right - left) * 0.08
    peak = top - (base - top) * float(layout.uniform(0.25, 0.6))
    roof = _colour(layout, ROOFS)
    if layout.random() < 0.6:
        draw.polygon([(left - overhang, top), (right + overhang, top), ((left + right) / 2, peak)], fill=roof)
    else:
        draw.rectangle([left - overhang, top - (base - top) * 0.12, right + overhang, top], fill=roof)
    door_x = left + (right - left) * float(layout.uniform(0.3, 0.6))
    door_w = (right - left) * 0.14
    draw.rectangle(
        [door_x, base - (base - top) * 0.6, door_x + door_w, base], fill=_colour(layout, ROOFS, 30)
    )
    for _ in range(int(layout.integers(1, 4))):
        wx = left + (right - left) * float(layout.uniform(0.05, 0.8))
        wy = top + (base - top) * float(layout.uniform(0.15, 0.4))
        ww, wh = (right - left) * 0.12, (base - top) * 0.22
        draw.rectangle([wx, wy, wx + ww, wy + wh], fill=(60, 70, 80), outline=(230, 230, 230), width=2)
    if layout.random() < 0.6:  # the household head standing in front (docs/domain.md §2.3)
        px = door_x + door_w * float(layout.uniform(1.5, 3.0))
        ph = (base - top) * 0.7
        draw.ellipse([px - ph * 0.08, base - ph, px + ph * 0.08, base - ph * 0.82], fill=(200, 160, 130))
        draw.rectangle(
            [px - ph * 0.12, base - ph * 0.82, px + ph * 0.12, base], fill=_colour(layout, ROOFS, 60)
        )
    if layout.random() < 0.4:  # power line
        draw.line([0, horizon * 0.4, w, horizon * 0.55], fill=(30, 30, 30), width=2)
    return image


def _site(layout: np.random.Generator, view: _View, size: tuple[int, int]) -> Image.Image:
    w, h = size
    image, horizon = _sky_and_ground(layout, view, size)
    draw = ImageDraw.Draw(image)
    points = [(0, h)]
    for i in range(7):
        points.append((view.x(i / 6, w), view.y(float(layout.uniform(0.45, 0.7)), h)))
    points.append((w, h))
    draw.polygon(points, fill=_colour(layout, [(140, 110, 80), (120, 100, 70), (100, 90, 60)]))
    if layout.random() < 0.6:  # a gully or stream
        x0, x1 = view.x(float(layout.uniform(0.2, 0.5)), w), view.x(float(layout.uniform(0.5, 0.9)), w)
        draw.line([x0, h, x1, horizon + 10], fill=(80, 110, 140), width=int(12 * view.zoom))
    for _ in range(int(layout.integers(4, 12))):  # rocks
        rx, ry = view.x(float(layout.uniform(0, 1)), w), view.y(float(layout.uniform(0.65, 0.98)), h)
        r = float(layout.uniform(6, 25)) * view.zoom
        draw.ellipse(
            [rx - r, ry - r * 0.6, rx + r, ry + r * 0.6], fill=_colour(layout, [(120, 120, 115)], 30)
        )
    return image


def _kitchen(layout: np.random.Generator, view: _View, size: tuple[int, int]) -> Image.Image:
    w, h = size
    image = _gradient(size, _colour(layout, WALLS, 10), _colour(layout, [(90, 80, 70)], 15))
    draw = ImageDraw.Draw(image)
    counter = view.y(float(layout.uniform(0.55, 0.7)), h)
    draw.rectangle([0, counter, w, h], fill=_colour(layout, [(110, 90, 70), (150, 150, 150)]))
    stove_x = view.x(float(layout.uniform(0.1, 0.5)), w)
    draw.rectangle(
        [stove_x, counter - 60 * view.zoom, stove_x + 160 * view.zoom, counter + 50], fill=(60, 55, 50)
    )
    draw.ellipse(
        [stove_x + 30, counter - 90 * view.zoom, stove_x + 130 * view.zoom, counter - 40], fill=(30, 30, 30)
    )
    for _ in range(int(layout.integers(3, 8))):  # jars, bags of grain
        jx, r = view.x(float(layout.uniform(0.05, 0.95)), w), float(layout.uniform(15, 40)) * view.zoom
        colour = _colour(layout, [(160, 120, 80), (220, 210, 190), (90, 60, 40), (60, 90, 130)], 30)
        draw.rounded_rectangle([jx - r, counter - 2.2 * r, jx + r, counter], radius=int(r / 2), fill=colour)
    shelf = view.y(float(layout.uniform(0.2, 0.35)), h)
    draw.rectangle([view.x(0.0, w), shelf, view.x(1.0, w), shelf + 8], fill=(100, 70, 40))
    for _ in range(int(layout.integers(2, 6))):
        bx = view.x(float(layout.uniform(0.05, 0.95)), w)
        draw.rectangle(
            [bx, shelf - 40 * view.zoom, bx + 25 * view.zoom, shelf], fill=_colour(layout, WALLS, 60)
        )
    return image


def _document(layout: np.random.Generator, view: _View, size: tuple[int, int]) -> Image.Image:
    w, h = size
    image = Image.new("RGB", size, _colour(layout, [(120, 90, 60), (70, 70, 75), (160, 140, 120)], 20))
    page = Image.new(
        "RGB", (int(w * 0.7), int(h * 0.85)), _colour(layout, [(240, 236, 225), (250, 250, 245)], 6)
    )
    draw = ImageDraw.Draw(page)
    pw, ph = page.size
    draw.rectangle([10, 10, pw - 10, 40], fill=(190, 60, 50) if layout.random() < 0.5 else (60, 90, 160))
    y = 55
    while y < ph - 20:
        x = 20
        while x < pw - 40:  # "text": runs of glyph-sized marks
            word = int(layout.integers(3, 9)) * 7
            draw.text(
                (x, y), "".join(chr(int(c)) for c in layout.integers(65, 90, word // 7)), fill=(40, 40, 40)
            )
            x += word + 8
        if layout.random() < 0.2:
            draw.line([15, y + 14, pw - 15, y + 14], fill=(120, 120, 120))
        y += int(layout.integers(16, 26))
    if layout.random() < 0.7:  # a red stamp
        sx, sy = int(layout.uniform(0.4, 0.8) * pw), int(layout.uniform(0.5, 0.85) * ph)
        draw.ellipse([sx - 35, sy - 35, sx + 35, sy + 35], outline=(200, 30, 30), width=4)
    angle = float(layout.uniform(-8, 8)) + (float(view.shift) * 20)
    page = page.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=(0, 0, 0))
    mask = page.convert("L").point(lambda v: 255 if v > 0 else 0)
    page = page.resize((int(page.width * view.zoom * 0.95), int(page.height * view.zoom * 0.95)))
    mask = mask.resize(page.size)
    image.paste(page, (int(view.x(0.5, w) - page.width / 2), int(h / 2 - page.height / 2)), mask)
    return image


def _water(layout: np.random.Generator, view: _View, size: tuple[int, int]) -> Image.Image:
    w, h = size
    image = _gradient(size, (235, 235, 232), _colour(layout, [(200, 200, 195), (180, 185, 190)], 10))
    draw = ImageDraw.Draw(image)
    cx = view.x(float(layout.uniform(0.35, 0.65)), w)
    gw, gh = float(layout.uniform(60, 110)) * view.zoom, float(layout.uniform(130, 220)) * view.zoom
    base = view.y(float(layout.uniform(0.75, 0.9)), h)
    water = _colour(layout, [(200, 215, 225), (190, 180, 140), (170, 190, 200)], 15)
    level = base - gh * float(layout.uniform(0.5, 0.85))
    draw.rectangle([cx - gw / 2, level, cx + gw / 2, base], fill=water)
    draw.rectangle([cx - gw / 2, base - gh, cx + gw / 2, base], outline=(150, 150, 150), width=3)
    draw.ellipse([cx - gw / 2, level - 8, cx + gw / 2, level + 8], outline=(150, 160, 170), width=2)
    for _ in range(int(layout.integers(0, 4))):  # something else on the table
        ox = view.x(float(layout.uniform(0.05, 0.95)), w)
        r = float(layout.uniform(15, 45)) * view.zoom
        draw.rectangle([ox - r, base - r * 1.6, ox + r, base], fill=_colour(layout, WALLS + ROOFS, 40))
    return image


def _wall(layout: np.random.Generator, view: _View, size: tuple[int, int]) -> Image.Image:
    w, h = size
    base_colour = np.array(_colour(layout, WALLS, 20), dtype=float)
    texture_rng = np.random.default_rng(int(layout.integers(1 << 30)))
    texture = texture_rng.normal(0, 1, (h // 8 + 2, w // 8 + 2))
    texture = np.array(
        Image.fromarray(((texture + 4) * 30).clip(0, 255).astype(np.uint8)).resize((w * 2, h * 2))
    )
    offset = int(view.shift * w) + w // 2
    crop = texture[h // 2 : h // 2 + h, offset : offset + w].astype(float) - 120
    rgb = np.clip(base_colour[None, None, :] + crop[:, :, None] * 0.4, 0, 255).astype(np.uint8)
    image = Image.fromarray(rgb, "RGB")
    draw = ImageDraw.Draw(image)
    x, y = view.x(float(layout.uniform(0.2, 0.8)), w), 0.0
    points = [(x, y)]
    while y < h:  # a crack wandering down the wall
        x += float(layout.normal(0, 14)) * view.zoom
        y += float(layout.uniform(10, 30)) * view.zoom
        points.append((x, y))
    draw.line(points, fill=(40, 35, 30), width=max(1, int(3 * view.zoom)))
    rx = view.x(float(layout.uniform(0.1, 0.7)), w)
    ry = view.y(float(layout.uniform(0.2, 0.9)), h, anchor=0.5)
    draw.rectangle([rx, ry, rx + 220 * view.zoom, ry + 26 * view.zoom], fill=(235, 200, 60))  # a ruler
    for i in range(0, 22):
        tx = rx + i * 10 * view.zoom
        draw.line([tx, ry, tx, ry + (12 if i % 5 == 0 else 6) * view.zoom], fill=(20, 20, 20))
    return image


RENDERERS: dict[str, Callable[[np.random.Generator, _View, tuple[int, int]], Image.Image]] = {
    "house": _house,
    "site": _site,
    "kitchen": _kitchen,
    "document": _document,
    "water": _water,
    "wall": _wall,
}


def _photographic(image: Image.Image, rng: np.random.Generator, view: _View) -> Image.Image:
    """Lens blur, vignetting, light and white balance of this shot, and sensor noise."""
    image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.4, 1.2))))
    pixels = np.asarray(image, dtype=np.float32)
    h, w = pixels.shape[:2]
    # Surfaces are never flat in a photo: a soft, blotchy texture (dust, plaster, uneven light).
    blotches = rng.normal(0, 1, (h // 24 + 2, w // 24 + 2)).astype(np.float32)
    blotches = np.asarray(Image.fromarray(blotches, "F").resize((w, h), Image.Resampling.BICUBIC))
    pixels *= 1 + float(rng.uniform(0.03, 0.08)) * blotches[:, :, None]
    yy, xx = np.mgrid[0:h, 0:w]
    radius = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / ((w / 2) ** 2 + (h / 2) ** 2)
    vignette = 1 - float(rng.uniform(0.1, 0.3)) * radius
    pixels = pixels * vignette[:, :, None] * view.light * np.array(view.tint)[None, None, :]
    pixels += rng.normal(0, float(rng.uniform(2, 6)), pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
