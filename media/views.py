"""Candidate keys for the duplicate lookup: coarse hashes of the photo's core, seen as an edited copy would be.

A reused copy is cropped (6-12 % a side), straightened (which zooms), mirrored and re-stamped, so a hash
of the whole picture moves too far to be looked up exactly. The *core* of a photo, the region
``CORE_X x CORE_Y`` (the middle, above the band at the bottom and below the top-left corner where
watermark-camera apps burn their stamp), is found again in a copy at a predictable place once the crop
scale, the tilt and the mirroring are guessed. So:

- a stored photo is keyed by its core as it is, zoomed in and zoomed out (``STORED_SCALES``, 3 keys);
- a new photo is looked up under every guess: mirrored or not, tilted by ``ROTATIONS``, showing
  ``QUERY_SCALES`` of the stored one's field (a crop, or the original of a crop), with the least
  reliable bit of each key flipped as well (about 50 distinct keys after duplicates).

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
VIEW_SIDE = 256  # views are cut from a copy this size: the keys look at 32 x 32 and 64 x 64 anyway
_FFT_SIDE = 64
_WINDOW = np.outer(np.hanning(_FFT_SIDE), np.hanning(_FFT_SIDE)).astype(np.float32)


class ViewKey(NamedTuple):
    """One view's lookup key (16 bits), its probe (the least reliable bit flipped) and its fine hash.

    A named tuple, not a dataclass: a lookup parses some 45 of them for each of 40 shortlisted photos."""

    key: int
    probe: int
    fine: int


def stored_keys(image: Image.Image) -> list[ViewKey]:
    """The keys a photo is filed under: its core at the stored scales, not mirrored, not tilted."""
    grey = _small_grey(image)
    return [_view_key(_region(grey, scale)) for scale in STORED_SCALES]


def query_keys(image: Image.Image) -> list[ViewKey]:
    """The keys to look a new photo up under: every guess of mirror, tilt and crop scale."""
    grey = _small_grey(image)
    found = []
    for mirrored, angle in itertools.product((False, True), ROTATIONS):
        view = ImageOps.mirror(grey) if mirrored else grey
        if angle:
            view = view.rotate(angle, Image.Resampling.BILINEAR)
        found.extend(_view_key(_region(view, scale)) for scale in QUERY_SCALES)
    return found


def _small_grey(image: Image.Image) -> Image.Image:
    """The picture in grey, small, its levels stretched (1 % clipped at each end): brightness and contrast
    edits then move the keys less (measured: 9 instead of 11 missed keys on the mild set; a full
    histogram equalization amplifies the noise of flat walls and loses more)."""
    grey = image.convert("L")
    if max(grey.size) > VIEW_SIDE:
        grey = grey.copy()
        grey.thumbnail((VIEW_SIDE, VIEW_SIDE), Image.Resampling.BOX)
    return ImageOps.autocontrast(grey, cutoff=1)


def _region(grey: Image.Image, scale: float) -> Image.Image:
    """The part of ``grey`` where a photo it shows ``scale`` of (centred) has its core."""
    w, h = grey.size
    shift = (1 - scale) / 2
    x0, x1 = ((v - shift) / scale for v in CORE_X)
    y0, y1 = ((v - shift) / scale for v in CORE_Y)
    box = (round(max(0.0, x0) * w), round(max(0.0, y0) * h), round(min(1.0, x1) * w), round(min(1.0, y1) * h))
    return grey.crop(box)


def _view_key(region: Image.Image) -> ViewKey:
    small = np.asarray(region.resize((32, 32), Image.Resampling.BOX), dtype=np.float32)
    dct = dctn(small, norm="ortho")
    low = dct[:3, :3].ravel()[1:]
    low = low - np.median(low)
    fine = dct[:8, :8].ravel()
    fine_bits = fine > np.median(fine[1:])
    spectrum = _low_spectrum(region)
    values = np.concatenate([low, spectrum])
    bits = values > 0
    key = _pack(bits)
    weakest = int(np.argmin(np.abs(values)))
    flipped = bits.copy()
    flipped[weakest] = not flipped[weakest]
    return ViewKey(key, _pack(flipped), _pack(fine_bits))


def _low_spectrum(region: Image.Image) -> np.ndarray:
    """8 log Fourier magnitudes at the lowest frequencies, v and -v summed (a mirrored view gives the same)."""
    pixels = np.asarray(region.resize((_FFT_SIDE, _FFT_SIDE), Image.Resampling.BOX), dtype=np.float32)
    pixels = (pixels - pixels.mean()) / (pixels.std() + 1e-3) * _WINDOW
    magnitude = np.abs(np.fft.fft2(pixels))
    values = []
    for u in range(3):
        for v in range(3):
            if u or v:
                values.append(np.log1p(magnitude[u, v] + magnitude[u, -v] if v else magnitude[u, v]))
    out = np.array(values, dtype=np.float32)
    return out - np.median(out)


def _pack(bits: np.ndarray) -> int:
    return int.from_bytes(np.packbits(bits).tobytes(), "big")
