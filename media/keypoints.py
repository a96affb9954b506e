"""Local features of a photo and geometric verification of a candidate pair (OpenCV ORB + RANSAC).

Perceptual hashes (media/duplicates.py) find candidates; they cannot tell a reused photo that was
mirrored, cropped by a tenth on each side, tilted and re-stamped from a look-alike (the next house of the
same government design). Local features can: the same photo, however edited, has hundreds of keypoints
that one similarity transform (shift, rotation, scale; after mirroring if it was mirrored) carries onto
the other, spread over the picture; two different photos have only a few such matches, and those that
survive are bunched in one spot (the same watermark-camera stamp in the same corner of both).

``features(image)`` computes ORB keypoints of the upright grey picture reduced to ``SIDE`` pixels, once
as it is and once mirrored, and packs them (``to_bytes``, about 29 KB for 2 x 400 keypoints; stored in the
blob store beside the thumbnails). ``verify(new, stored)`` matches the new photo's two sets against the
stored photo's plain set (Lowe's ratio test, then ``cv2.estimateAffinePartial2D`` with RANSAC) and returns
a ``Verification``: inlier count, the share of the picture the inliers cover, how far one picture lies
inside the other, and the transform, from which ``alterations`` names what was done (mirrored, cropped,
tilted, resized).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image, ImageOps

FEATURES_VERSION = 1
SIDE = 512  # both photos are compared at this long side, so a shrunk copy is enlarged back
MAX_KEYPOINTS = 400
GRID = 4
RATIO = 0.8  # Lowe's ratio test
RANSAC_PX = 6.0
MIN_INLIERS = 20
MIN_AREA = 0.08  # share of the picture the inliers' convex hull must cover (on both photos)
MIN_CONTAINMENT = 0.88  # one picture must lie this much inside the other (``Verification.containment``)
_HEADER = struct.Struct(">BHHHH")  # version, width, height, plain count, mirrored count

cv2.setNumThreads(1)  # the job runs beside the server on few cores; one pair takes milliseconds anyway


@dataclass(frozen=True)
class KeypointSet:
    """Keypoint positions (float32, n x 2, in the reduced picture) and their ORB descriptors (n x 32)."""

    points: np.ndarray
    descriptors: np.ndarray


@dataclass(frozen=True)
class Features:
    """The plain and the mirrored keypoints of a photo and the size of the picture they were found in."""

    size: tuple[int, int]
    plain: KeypointSet
    mirrored: KeypointSet

    def to_bytes(self) -> bytes:
        parts = [_HEADER.pack(FEATURES_VERSION, *self.size, len(self.plain.points), len(self.mirrored.points))]
        for kps in (self.plain, self.mirrored):
            parts.append(np.round(kps.points * 16).astype(">u2").tobytes())
            parts.append(kps.descriptors.astype(np.uint8).tobytes())
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> Features:
        """Parse ``to_bytes`` output; ValueError for anything else."""
        if len(data) < _HEADER.size:
            raise ValueError("truncated features")
        version, width, height, n_plain, n_mirrored = _HEADER.unpack_from(data)
        if version != FEATURES_VERSION:
            raise ValueError(f"unsupported features version {version}")
        offset, sets = _HEADER.size, []
        for count in (n_plain, n_mirrored):
            end = offset + count * 4
            points = np.frombuffer(data[offset:end], dtype=">u2").astype(np.float32).reshape(count, 2) / 16
            descriptors = np.frombuffer(data[end : end + count * 32], dtype=np.uint8).reshape(count, 32)
            if len(descriptors) != count:
                raise ValueError("truncated features")
            sets.append(KeypointSet(points, descriptors))
            offset = end + count * 32
        if offset != len(data):
            raise ValueError("malformed features")
        return cls((width, height), sets[0], sets[1])


@dataclass(frozen=True)
class Verification:
    """How well one similarity transform carries one photo's keypoints onto the other's.

    ``inliers``: matches the transform explains; ``area``: the smaller of the two convex-hull areas of
    those matches, as a share of each picture; ``mirrored``: the match was found after mirroring the new
    photo; ``angle`` (degrees), ``scale`` (stored / new, at equal long sides) and ``coverage`` (share of the
    stored picture that the new one shows) describe the transform. ``containment``: the larger of the
    share of the new picture that the transform carries inside the stored one and the share of the stored
    picture that the new one covers.

    A reuse is cut out of its source (cropped, tilted, shrunk, re-stamped), so one of the two pictures
    lies inside the other: a containment near 1, down to 0.919 on the labelled sets (two copies of one
    photo cut at opposite sides). The same scene photographed from another spot matches over its common
    part too, with as many keypoints as a reuse, but each picture shows what the other does not
    (0.76-0.85 for the labelled set's kitchen taken from two spots 12-28 % apart; docs/performance.md,
    "Reused photos").
    """

    inliers: int
    area: float
    mirrored: bool = False
    angle: float = 0.0
    scale: float = 1.0
    coverage: float = 1.0
    containment: float = 0.0  # no transform fitted: nothing is known to lie inside the other

    @property
    def one_within_other(self) -> bool:
        return self.containment >= MIN_CONTAINMENT

    @property
    def confirmed(self) -> bool:
        return self.inliers >= MIN_INLIERS and self.area >= MIN_AREA and self.one_within_other

    def alterations(self) -> list[str]:
        """What the transform says was done to one photo to make the other (for the reviewer)."""
        found = []
        if self.mirrored:
            found.append("mirrored")
        if self.coverage < 0.9 or self.coverage > 1 / 0.9:
            found.append("cropped")
        if abs(self.angle) >= 1.0:
            found.append(f"tilted {abs(self.angle):.0f} deg")
        return found


def features(image: Image.Image) -> Features:
    """ORB keypoints of the upright picture and of its mirror image, at ``SIDE`` pixels on the long side."""
    grey = image.convert("L")
    scale = SIDE / max(grey.size)
    size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
    resample = Image.Resampling.BILINEAR if scale < 1 else Image.Resampling.BICUBIC
    grey = grey.resize(size, resample)
    return Features(size, _orb(grey), _orb(ImageOps.mirror(grey)))


def verify(new: Features, stored: Features) -> Verification:
    """The better of the plain and the mirrored match of ``new`` onto ``stored``'s plain keypoints."""
    plain = _match(new.plain, stored.plain, new.size, stored.size)
    mirrored = _match(new.mirrored, stored.plain, new.size, stored.size)
    if mirrored is not None and (plain is None or (mirrored.inliers, mirrored.area) > (plain.inliers, plain.area)):
        return replace(mirrored, mirrored=True)
    return plain or Verification(0, 0.0)


def _orb(grey: Image.Image) -> KeypointSet:
    """The strongest keypoints, spread over a GRID x GRID grid so that no region takes them all.

    Without the grid, the text of a watermark-camera stamp (white on a dark shadow, the sharpest thing in
    most pictures) draws most of the keypoints: two distinct stamped photos then match there, and a
    re-stamped copy keeps too few keypoints on the picture itself.
    """
    detector = cv2.ORB_create(nfeatures=MAX_KEYPOINTS * 4, fastThreshold=10)
    keypoints, descriptors = detector.detectAndCompute(np.asarray(grey), None)
    if descriptors is None or not keypoints:
        return KeypointSet(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
    points = np.array([k.pt for k in keypoints], dtype=np.float32)
    response = np.array([k.response for k in keypoints], dtype=np.float32)
    cell = (
        np.minimum(points[:, 1] * GRID // grey.height, GRID - 1) * GRID
        + np.minimum(points[:, 0] * GRID // grey.width, GRID - 1)
    ).astype(int)
    order = np.lexsort((-response, cell))  # by cell, strongest first within each
    rank_in_cell = np.empty(len(order), dtype=int)
    starts = np.searchsorted(cell[order], np.arange(GRID * GRID))
    rank_in_cell[order] = np.arange(len(order)) - starts[cell[order]]
    chosen = np.lexsort((-response, rank_in_cell))[:MAX_KEYPOINTS]  # round-robin over the cells
    return KeypointSet(points[chosen], descriptors[chosen])


def _match(
    new: KeypointSet, stored: KeypointSet, new_size: tuple[int, int], stored_size: tuple[int, int]
) -> Verification | None:
    if len(new.points) < 2 or len(stored.points) < 2:
        return None
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(new.descriptors, stored.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO * p[1].distance]
    if len(good) < 6:
        return Verification(len(good), 0.0)
    src = new.points[[m.queryIdx for m in good]]
    dst = stored.points[[m.trainIdx for m in good]]
    transform, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_PX)
    if transform is None or mask is None:
        return Verification(0, 0.0)
    inliers = mask.ravel().astype(bool)
    count = int(inliers.sum())
    if count < 3:
        return Verification(count, 0.0)
    area = min(_hull_share(src[inliers], new_size), _hull_share(dst[inliers], stored_size))
    a, b = float(transform[0, 0]), float(transform[1, 0])
    scale = math.hypot(a, b)
    angle = math.degrees(math.atan2(b, a))
    coverage = (new_size[0] * new_size[1] * scale * scale) / (stored_size[0] * stored_size[1])
    return Verification(count, area, False, angle, scale, coverage, _containment(transform, new_size, stored_size))


def _containment(transform: np.ndarray, new_size: tuple[int, int], stored_size: tuple[int, int]) -> float:
    """The larger of: the share of the new picture that ``transform`` carries inside the stored one, and
    the share of the stored picture that the carried new one covers."""
    carried = _corners(new_size) @ transform[:, :2].T.astype(np.float32) + transform[:, 2].astype(np.float32)
    stored = _corners(stored_size)
    common, _ = cv2.intersectConvexConvex(carried, stored)
    carried_area = abs(float(cv2.contourArea(carried)))
    if carried_area <= 0:
        return 0.0
    return max(float(common) / carried_area, float(common) / (stored_size[0] * stored_size[1]))


def _corners(size: tuple[int, int]) -> np.ndarray:
    width, height = size
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)


def _hull_share(points: np.ndarray, size: tuple[int, int]) -> float:
    hull = cv2.convexHull(points.reshape(-1, 1, 2))
    return float(cv2.contourArea(hull)) / (size[0] * size[1])
