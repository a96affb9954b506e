"""Candidate keys for the duplicate lookup: coarse hashes of the photo's core, seen as an edited copy would be.

A reused copy is cropped (6-12 % a side), straightened (which zooms), mirrored and re-stamped, so a hash
of the whole picture moves too far to be looked up exactly. The *core* of a photo, the region
``CORE_X x CORE_Y`` (the middle, above the band at the bottom and below the top-left corner where
watermark-camera apps burn their stamp), is found again in a copy at a predictable place once the crop
scale, the tilt and the mirroring are guessed. So:

- a stored photo is keyed by its core as it is, zoomed in and zoomed out (``STORED_SCALES``, 3 keys), and
  the same three once more as the picture would look brightened by ``BRIGHTENED`` with its highlights
  clipped (3 more keys), because a brightened copy loses its highlights and no levels stretch brings them
  back: its own keys then match the original's brightened ones;
- a new photo is looked up under every guess: mirrored or not, tilted by ``ROTATIONS``, showing
  ``QUERY_SCALES`` of the stored one's field (a crop, or the original of a crop), with a probe of each
  key as well, its least reliable pair of bits swapped (about 30 distinct keys after duplicates).

Each key is 16 bits: the signs (about their median) of the 8 lowest DCT coefficients of the view, which
survive shrinking, recompression, grey and contrast, and 8 bits of the view's low-frequency Fourier
magnitudes (translation tolerant and the same for a mirrored view), which separate what the DCT signs
alone lump together. Beside each key goes a 64-bit pHash of the same view, the *fine* hash, by which the
lookup ranks the candidates before the expensive geometric verification (media/keypoints.py). Measured
choices (grid sizes, scales, probes): docs/media.md section 4.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageOps
from scipy.fft import dctn

CORE_X = (0.15, 0.85)
CORE_Y = (0.08, 0.68)
STORED_SCALES = (1 / 0.84, 1.0, 0.84)
QUERY_SCALES = (1 / 0.72, 1 / 0.82, 1 / 0.92, 1.0, 0.92, 0.82, 0.72)
ROTATIONS = (0.0, 4.5, -4.5)
BRIGHTENED = 1.35  # the stored photo's second set of keys: its grey levels times this, clipped at white
VIEW_SIDE = 256  # views are cut from a copy this size: the keys look at 32 x 32 and 64 x 64 anyway
_FFT_SIDE = 64
_WINDOW = np.outer(np.hanning(_FFT_SIDE), np.hanning(_FFT_SIDE)).astype(np.float32)


class ViewKey(NamedTuple):
    """One view's lookup key (16 bits), its probe (the least reliable pair of bits swapped) and its fine hash.

    A named tuple, not a dataclass: a lookup parses some 45 of them for each of 40 shortlisted photos."""

    key: int
    probe: int
    fine: int


def stored_keys(image: Image.Image) -> list[ViewKey]:
    """The keys a photo is filed under: its core at the stored scales, not mirrored, not tilted, as it is
    and brightened (``BRIGHTENED``, highlights clipped: on the mild set, the copies sharing no key with
    their source went from 51 to 7 of 3,738, docs/performance.md "Reused photos"). The shortlist's
    ranking compares the plain ones; the brightened ones have a ranking of their own, which adds two
    candidates (media/duplicates.py, ``_split``, ``pick_stacked``)."""
    plain, brightened = _small_grey(image), _small_grey(image, brighten=BRIGHTENED)
    return _view_keys([_region(grey, scale) for grey in (plain, brightened) for scale in STORED_SCALES])


def query_keys(image: Image.Image) -> list[ViewKey]:
    """The keys to look a new photo up under: every guess of mirror, tilt and crop scale."""
    grey = _small_grey(image)
    regions = []
    for mirrored, angle in itertools.product((False, True), ROTATIONS):
        view = ImageOps.mirror(grey) if mirrored else grey
        if angle:
            view = view.rotate(angle, Image.Resampling.BILINEAR)
        regions.extend(_region(view, scale) for scale in QUERY_SCALES)
    return _view_keys(regions)


def _small_grey(image: Image.Image, *, brighten: float = 1.0) -> Image.Image:
    """The picture in grey, small, its levels stretched (1 % clipped at each end): brightness and contrast
    edits then move the keys less (measured: 9 instead of 11 missed keys on the mild set; a full
    histogram equalization amplifies the noise of flat walls and loses more). ``brighten``: the grey
    levels multiplied first, clipped at white, as a brightened copy has them."""
    grey = image.convert("L")
    if max(grey.size) > VIEW_SIDE:
        grey = grey.copy()
        grey.thumbnail((VIEW_SIDE, VIEW_SIDE), Image.Resampling.BOX)
    if brighten != 1.0:
        grey = grey.point([min(255, round(value * brighten)) for value in range(256)])
    return ImageOps.autocontrast(grey, cutoff=1)


def _region(grey: Image.Image, scale: float) -> Image.Image:
    """The part of ``grey`` where a photo it shows ``scale`` of (centred) has its core."""
    w, h = grey.size
    shift = (1 - scale) / 2
    x0, x1 = ((v - shift) / scale for v in CORE_X)
    y0, y1 = ((v - shift) / scale for v in CORE_Y)
    box = (round(max(0.0, x0) * w), round(max(0.0, y0) * h), round(min(1.0, x1) * w), round(min(1.0, y1) * h))
    return grey.crop(box)


def _view_keys(regions: list[Image.Image]) -> list[ViewKey]:
    """The keys of several views at once (numpy in bulk: a lookup has 42 of them)."""
    pixels = np.stack(
        [np.asarray(r.resize((_FFT_SIDE, _FFT_SIDE), Image.Resampling.BOX), dtype=np.float32) for r in regions]
    )
    small = pixels.reshape(len(regions), 32, 2, 32, 2).mean(axis=(2, 4))  # the 32 x 32 the DCT looks at
    dct = dctn(small, axes=(1, 2), norm="ortho")
    low = dct[:, :3, :3].reshape(len(regions), 9)[:, 1:]
    low = low - np.median(low, axis=1, keepdims=True)
    fine = dct[:, :8, :8].reshape(len(regions), 64)
    fine_bits = fine > np.median(fine[:, 1:], axis=1, keepdims=True)
    values = np.concatenate([low, _low_spectrum(pixels)], axis=1)
    bits = values > 0
    probes = _swap_weakest_pair(values, bits)
    return [ViewKey(_pack(bits[i]), _pack(probes[i]), _pack(fine_bits[i])) for i in range(len(regions))]


def _swap_weakest_pair(values: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """The probe keys: in the half (DCT or Fourier) whose two middle values lie closest together, the
    sign of both swapped.

    Each half's 8 bits are signs about the half's own median, so every key has exactly four ones in each
    half, and an edit that moves the view moves the median too: the smallest positive and the largest
    negative value trade places, which changes two bits, never one. (A probe with one bit flipped has
    three or five ones and can never equal a stored key; measured, it found nothing.)
    """
    rows = np.arange(len(values))
    probes = bits.copy()
    best_gap = np.full(len(values), np.inf)
    chosen = np.zeros((len(values), 2), dtype=int)
    for start in (0, 8):
        half = values[:, start : start + 8]
        above = np.where(half > 0, half, np.inf)
        below = np.where(half <= 0, half, -np.inf)
        low_above, high_below = above.argmin(axis=1), below.argmax(axis=1)
        gap = above[rows, low_above] - below[rows, high_below]
        better = gap < best_gap
        best_gap = np.where(better, gap, best_gap)
        chosen[better] = np.stack([low_above, high_below], axis=1)[better] + start
    swappable = np.isfinite(best_gap)
    for column in (0, 1):
        probes[rows[swappable], chosen[swappable, column]] ^= True
    return probes


def _low_spectrum(pixels: np.ndarray) -> np.ndarray:
    """8 log Fourier magnitudes per view at the lowest frequencies, v and -v summed (so a mirrored view
    gives the same), about their median."""
    mean = pixels.mean(axis=(1, 2), keepdims=True)
    spread = pixels.std(axis=(1, 2), keepdims=True) + 1e-3
    magnitude = np.abs(np.fft.fft2((pixels - mean) / spread * _WINDOW, axes=(1, 2)))
    columns = [
        magnitude[:, u, v] + magnitude[:, u, -v] if v else magnitude[:, u, v]
        for u in range(3)
        for v in range(3)
        if u or v
    ]
    out = np.log1p(np.stack(columns, axis=1)).astype(np.float32)
    return out - np.median(out, axis=1, keepdims=True)


def _pack(bits: np.ndarray) -> int:
    return int.from_bytes(np.packbits(bits).tobytes(), "big")
