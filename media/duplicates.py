"""Near-duplicate photos: a perceptual fingerprint per photo, a scalable candidate lookup, and the verdict.

Exact re-uploads are caught by SHA-256 (the caller's blob key); this module catches the same photo after
the edits people make when they reuse one for another household: the mild ones (resized, recompressed,
cropped by a few percent, tilted a few degrees, framed, brightened) and the field ones (re-stamped by a
watermark camera, mirrored, cropped by 6-12 % a side, tilted 3-6 degrees, shrunk to a quarter, JPEG
quality 25, grey, more contrast; two to four at once).

Three stages, each measured on the labelled sets (docs/media.md section 4, docs/performance.md):

1. **Fingerprint** (``fingerprint``), once per photo. The *hash variants*: pHash and dHash of the whole
   picture and of its central 70 %, a 4 x 4 chroma grid and a colour hash, once more inside a detected
   uniform frame (a border). The *view keys* (media/views.py): 16-bit keys of the photo's core region,
   filed under 6 keys (3 zooms, as it is and brightened; each 3 ranked apart), looked up under 42
   guesses of mirror, tilt and crop (about 30 distinct keys). The picture's size.
2. **Candidate lookup** (``DuplicateIndex`` in memory; the ``photo_keys`` table in the database): the
   stored photos sharing a key with any of the new photo's guesses, the best ``SHORTLIST`` by the Hamming
   distance of the 64-bit fine hash filed with the key; of those, the best ``CANDIDATES`` by view
   agreement and hash score go on, and ``BRIGHTENED_CANDIDATES`` more by agreement with the brightened
   views (``pick_stacked``). One indexed ``IN`` query, no scan.
3. **Verdict** (``judge``): the same photo when the hash score (``match``) is at most ``HASH_THRESHOLD``
   (few distinct photos reach it), or when local features with RANSAC (media/keypoints.py) carry one
   photo onto the other (fewer of them when the hash score is at most ``NEAR_HASH_THRESHOLD``). The
   verdict names what was done: mirrored, cropped, tilted, resized, grey, framed.

Score (``match``). For each pair of variants the score is a weighted mean of normalised distances
(Hamming distance / bits for hashes, mean absolute chroma difference / 64), with chroma weighted twice;
the smallest over variant pairs wins, so a framed copy is compared frame-less against the original.
0 means identical; unrelated photos score about 0.35-0.5.
"""

from __future__ import annotations

import base64
import struct
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from media.images import DEFAULT_MAX_PIXELS, open_upright
from media.keypoints import Features, Verification, features, verify
from media.views import STORED_SCALES, ViewKey, query_keys, stored_keys

FINGERPRINT_VERSION = 2
DEFAULT_THRESHOLD = 0.165  # the hash score's earlier threshold, kept for ``match`` alone
HASH_THRESHOLD = 0.10  # a hash score this low needs no geometric check (few distinct pairs reach it, see judge)
NEAR_HASH_THRESHOLD = 0.14  # up to this score, fewer keypoints than MIN_INLIERS / MIN_AREA confirm a pair
NEAR_MIN_INLIERS = 15  # ... this many matches fitting one transform
NEAR_MIN_AREA = 0.01  # ... whose convex hull covers this share of both pictures
SHORTLIST = 400  # stored photos fetched per new photo, best fine-hash distance first (200 lost 38 mild sources)
CANDIDATES = 12  # of those, verified: the best by view agreement (``view_distance``)
BRIGHTENED_CANDIDATES = 2  # and this many more: the best by agreement with the brightened views (pick_stacked)
AGREEING_VIEWS = 2  # view_distance sums the best this many views of each photo
HASH_WEIGHT = 64.0  # bits of view distance one unit of hash score is worth when candidates are ranked
WORK_SIDE = 512  # hashes are computed from at most this many pixels per side (they look at 32 x 32 anyway)
FRAME_PROBE_SIDE = 192  # the frame detector looks at a small copy, where sensor noise is averaged away
FRAME_TOLERANCE = 16.0  # max per-channel deviation (0-255) of a "uniform" pixel from the frame colour
FRAME_SHARE = 0.95  # share of a line's pixels that must be uniform for the line to count as frame
FRAME_MAX_SHARE = 0.3  # a frame never takes more than this share of a side
CENTRE_MARGIN = 0.15  # the centre hashes skip this share on every side
COLOUR_BITS = 42  # imagehash.colorhash(binbits=3): 14 bins x 3 bits
WEIGHTS = {"phash": 1.0, "dhash": 1.0, "centre_phash": 1.0, "centre_dhash": 1.0, "chroma": 2.0, "colour": 1.0}
_HASHES = ("phash", "dhash", "centre_phash", "centre_dhash")
_VARIANT = struct.Struct(">4Q6s32s")
_VIEW = struct.Struct(">HHQ")
_TAIL = struct.Struct(">HHBB")  # width, height, stored view count, query view count


@dataclass(frozen=True)
class Hashes:
    """The hashes of one view of a photo (whole frame, or inside a detected frame)."""

    phash: int
    dhash: int
    centre_phash: int
    centre_dhash: int
    colour: int
    chroma: bytes  # 4 x 4 x (Cb, Cr), row-major

    def pack(self) -> bytes:
        return _VARIANT.pack(
            self.phash,
            self.dhash,
            self.centre_phash,
            self.centre_dhash,
            self.colour.to_bytes(6, "big"),
            self.chroma,
        )

    @classmethod
    def unpack(cls, data: bytes) -> Hashes:
        ph, dh, cph, cdh, colour, chroma = _VARIANT.unpack(data)
        return cls(ph, dh, cph, cdh, int.from_bytes(colour, "big"), chroma)


@dataclass(frozen=True)
class Fingerprint:
    """A photo's perceptual fingerprint: one or two Hashes variants (whole image, then inside a frame),
    the view keys it is filed under (``stored``) and looked up under (``query``), and its size."""

    variants: tuple[Hashes, ...]
    stored: tuple[ViewKey, ...] = ()
    query: tuple[ViewKey, ...] = ()
    size: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        if not 1 <= len(self.variants) <= 2:
            raise ValueError("a fingerprint has one or two variants")

    @property
    def framed(self) -> bool:
        """True when a uniform frame was found around the picture (the second variant is inside it)."""
        return len(self.variants) == 2

    @property
    def grey(self) -> bool:
        """True when the picture has no colour (its chroma grid is flat at neutral)."""
        chroma = np.frombuffer(self.variants[-1].chroma, dtype=np.uint8).astype(np.int16)
        return bool(np.abs(chroma - 128).max() <= 3)

    def to_string(self) -> str:
        """A short ASCII form for a database column (about 0.8 or 1.5 KB of URL-safe base64)."""
        raw = b"".join(
            [
                bytes([FINGERPRINT_VERSION, len(self.variants)]),
                *(v.pack() for v in self.variants),
                _TAIL.pack(*self.size, len(self.stored), len(self.query)),
                *(_VIEW.pack(v.key, v.probe, v.fine) for v in (*self.stored, *self.query)),
            ]
        )
        return base64.urlsafe_b64encode(raw).decode("ascii")

    @classmethod
    def from_string(cls, text: str) -> Fingerprint:
        """Parse ``to_string`` output; ValueError for anything else (including other versions)."""
        raw, count, n_stored, n_query, start = _layout(text)
        size = _VARIANT.size
        variants = tuple(Hashes.unpack(raw[2 + i * size : 2 + (i + 1) * size]) for i in range(count))
        width, height = _TAIL.unpack_from(raw, start - _TAIL.size)[:2]
        views = list(map(ViewKey._make, _VIEW.iter_unpack(raw[start:])))
        return cls(variants, tuple(views[:n_stored]), tuple(views[n_stored:]), (width, height))

    def index_rows(self) -> list[tuple[int, int]]:
        """``(key, fine hash)`` pairs to file this photo under (the ``photo_keys`` rows)."""
        return sorted({(v.key, v.fine) for v in self.stored})

    def lookup_keys(self) -> dict[int, list[int]]:
        """Key -> the fine hashes of the guesses that produced it, to look this photo up with."""
        found: dict[int, set[int]] = defaultdict(set)
        for view in self.query:
            found[view.key].add(view.fine)
            found[view.probe].add(view.fine)
        return {key: sorted(fines) for key, fines in found.items()}


def _layout(text: str) -> tuple[bytes, int, int, int, int]:
    """A fingerprint string's bytes, variant count, stored and query view counts and where the views
    start; ValueError for anything ``to_string`` did not write (other versions, truncated, not base64)."""
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ValueError("not a fingerprint string") from exc
    if len(raw) < 2 or raw[0] != FINGERPRINT_VERSION:
        raise ValueError(f"unsupported fingerprint version {raw[:1].hex() or 'none'}")
    count = raw[1]
    tail = 2 + count * _VARIANT.size
    if count not in (1, 2) or len(raw) < tail + _TAIL.size:
        raise ValueError("truncated or malformed fingerprint")
    _, _, n_stored, n_query = _TAIL.unpack_from(raw, tail)
    start = tail + _TAIL.size
    if len(raw) != start + (n_stored + n_query) * _VIEW.size:
        raise ValueError("truncated or malformed fingerprint")
    return raw, count, n_stored, n_query, start


def fine_distance(lookup: dict[int, list[int]], key: int, fine: int) -> int:
    """The Hamming distance of a stored row's fine hash to the nearest guess that shares its key."""
    return min((fine ^ mine).bit_count() for mine in lookup.get(key, (fine ^ ((1 << 64) - 1),)))


@dataclass(frozen=True)
class MatchResult:
    """The hash comparison of a pair: ``score`` (0 identical .. ~0.5 unrelated) and the distances behind it."""

    is_duplicate: bool
    score: float
    details: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """Is ``new`` a reuse of ``stored``, on what evidence, and what was done to it.

    ``evidence`` is ``"hashes"`` (hash score at most HASH_THRESHOLD), ``"keypoints"`` (geometric
    verification), ``"hashes and keypoints"`` (a hash score just above the threshold and a transform
    carried by fewer matches than ``"keypoints"`` needs) or None; ``alterations`` names the edits seen
    (``mirrored``, ``cropped``, ``tilted 4 deg``, ``resized``, ``grey``, ``framed``), for the reviewer's
    side-by-side view.
    """

    is_duplicate: bool
    score: float
    evidence: str | None
    alterations: tuple[str, ...] = ()
    verification: Verification | None = None


def judge(
    new: Fingerprint, stored: Fingerprint, new_features: Features | None, stored_features: Features | None
) -> Verdict:
    """The verdict on a candidate pair: strict hash match, else ORB + RANSAC on the local features.

    The third way, a hash score up to ``NEAR_HASH_THRESHOLD`` with at least ``NEAR_MIN_INLIERS`` matches
    over ``NEAR_MIN_AREA``, is for the mild set's copies of low-texture or brightened scenes: their
    hashes barely miss and their keypoints cluster on the little texture there is. On the labelled sets
    it flagged no distinct photo anew, and two pairs of copies of different photos (docs/performance.md,
    "Reused photos").

    Both ways through the keypoints also need one picture to lie inside the other
    (``Verification.one_within_other``): the same scene photographed from another spot matches as well
    as a reuse over the part the two have in common, but a reuse shows nothing its source does not.
    """
    hashed = match(new, stored)
    checked = verify(new_features, stored_features) if new_features and stored_features else None
    if hashed.score <= HASH_THRESHOLD:
        evidence: str | None = "hashes"
    elif checked is not None and checked.confirmed:
        evidence = "keypoints"
    elif (
        checked is not None
        and hashed.score <= NEAR_HASH_THRESHOLD
        and checked.inliers >= NEAR_MIN_INLIERS
        and checked.area >= NEAR_MIN_AREA
        and checked.one_within_other
    ):
        evidence = "hashes and keypoints"
    else:
        return Verdict(False, hashed.score, None, (), checked)
    found = list(checked.alterations()) if checked is not None and evidence != "hashes" else []
    if hashed.details.get("framed"):
        found.append("framed")
    if _resized(new.size, stored.size):
        found.append("resized")
    if new.grey != stored.grey:
        found.append("grey")
    return Verdict(True, hashed.score, evidence, tuple(found), checked)


def _resized(a: tuple[int, int], b: tuple[int, int]) -> bool:
    if not all(a) or not all(b):
        return False
    ratio = max(a) / max(b)
    return ratio < 0.8 or ratio > 1.25


def fingerprint(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Fingerprint:
    """Fingerprint a photo file; raises media.images.UnreadableImage for files that cannot be decoded."""
    image = open_upright(path, min_side=256, max_pixels=max_pixels)
    return fingerprint_image(image, size=_upright_size(path, image))


def examine(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Fingerprint, Features]:
    """The fingerprint and the local features of a photo file, from one decode (what the job stores)."""
    image = open_upright(path, min_side=384, max_pixels=max_pixels)
    return fingerprint_image(image, size=_upright_size(path, image)), keypoint_features(image)


def _upright_size(path: Path, decoded: Image.Image) -> tuple[int, int]:
    """The photo's own size, upright (JPEGs are decoded reduced, so ``decoded`` is smaller)."""
    with Image.open(path) as image:
        width, height = image.size
    if (decoded.width > decoded.height) != (width > height):
        width, height = height, width  # the orientation tag turned it
    return width, height


def keypoint_features(image: Image.Image) -> Features:
    """media.keypoints.features of an upright image (re-exported so callers need one module)."""
    return features(image)


def fingerprint_image(image: Image.Image, *, size: tuple[int, int] | None = None) -> Fingerprint:
    """Fingerprint an already decoded, upright image; ``size``: the photo's own size, if it was decoded
    reduced (it tells a resized copy)."""
    image = image.convert("RGB")
    size = size or image.size
    if max(image.size) > WORK_SIDE:
        image = image.copy()
        image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    variants = [_hashes(image)]
    stored, query = stored_keys(image), query_keys(image)
    inner = _inside_frame(image)
    if inner is not None:
        framed = image.crop(inner)
        variants.append(_hashes(framed))
        stored += stored_keys(framed)
        query += query_keys(framed)
    return Fingerprint(tuple(variants), tuple(stored), tuple(query), (min(size[0], 65535), min(size[1], 65535)))


def match(a: Fingerprint, b: Fingerprint, *, threshold: float = DEFAULT_THRESHOLD) -> MatchResult:
    """Compare two fingerprints; the best-matching pair of variants decides."""
    best: dict[str, float] | None = None
    for i, left in enumerate(a.variants):
        for j, right in enumerate(b.variants):
            distances = _distances(left, right)
            distances["framed"] = float(i != j)
            if best is None or distances["score"] < best["score"]:
                best = distances
    assert best is not None
    return MatchResult(is_duplicate=best["score"] <= threshold, score=best["score"], details=best)


def pairwise_scores(left: Sequence[Fingerprint], right: Sequence[Fingerprint]) -> np.ndarray:
    """The ``match`` score of every (left, right) pair as a float array, computed in bulk with numpy.

    For scans of a scoped collection (and the benchmark); equals ``match(l, r).score`` element-wise.
    """
    return _scores(Stack.of(left), Stack.of(right))


def _scores(left: Stack, right: Stack) -> np.ndarray:
    """``pairwise_scores`` of two stacks."""
    a, b = left.hashes, right.hashes
    scores = np.full((len(left), len(right)), np.inf, dtype=np.float32)
    for va in range(2):
        for vb in range(2):
            rows, cols = a["present"][:, va], b["present"][:, vb]
            if not rows.any() or not cols.any():
                continue
            total = np.zeros((len(left), len(right)), dtype=np.float32)
            for name in _HASHES:
                xor = np.bitwise_xor(a[name][:, va][:, None], b[name][:, vb][None, :])
                total += WEIGHTS[name] * np.bitwise_count(xor).astype(np.float32) / 64
            colour = np.bitwise_xor(a["colour"][:, va][:, None], b["colour"][:, vb][None, :])
            total += WEIGHTS["colour"] * np.bitwise_count(colour).astype(np.float32) / COLOUR_BITS
            chroma = np.abs(a["chroma"][:, va][:, None, :] - b["chroma"][:, vb][None, :, :]).mean(axis=2)
            total += WEIGHTS["chroma"] * np.minimum(chroma / 64, 1.0)
            total /= sum(WEIGHTS.values())
            total[~rows, :] = np.inf
            total[:, ~cols] = np.inf
            np.minimum(scores, total, out=scores)
    return scores


_VARIANT_DTYPE = np.dtype([("hashes", ">u8", (4,)), ("colour", "u1", (6,)), ("chroma", "u1", (32,))])
_VIEW_DTYPE = np.dtype([("key", ">u2"), ("probe", ">u2"), ("fine", ">u8")])
_COLOUR_SHIFTS = np.arange(40, -1, -8, dtype=np.uint64)  # 6 big-endian bytes -> the colour hash


@dataclass(frozen=True)
class Stack:
    """Many fingerprints as the ranking of a shortlist compares them: hashes and fine hashes in arrays.

    ``Stack.parse`` reads them straight from the stored strings. A lookup ranks its whole shortlist and
    judges only 12; building the ViewKey tuples of all of them (``Fingerprint.from_string``) was about half
    of a lookup's CPU at 10^5 stored photos (docs/performance.md, "Scale").
    """

    hashes: dict[str, np.ndarray]  # phash .. colour: (n, 2) uint64; chroma: (n, 2, 32) float32; present: (n, 2)
    stored: np.ndarray  # (n, most views) uint64 fine hashes of the plain filed views (_split), zero-padded
    stored_valid: np.ndarray  # (n, most views) bool: which of them are views
    query: np.ndarray  # the same for the guesses
    query_valid: np.ndarray
    brightened: np.ndarray  # the same for the brightened filed views (none in a fingerprint of the earlier layout)
    brightened_valid: np.ndarray

    def __len__(self) -> int:
        return len(self.stored)

    @classmethod
    def of(cls, fingerprints: Sequence[Fingerprint]) -> Stack:
        filed = [_split(_fines(fp.stored), len(fp.variants)) for fp in fingerprints]
        plain, brightened = _padded([views[0] for views in filed]), _padded([views[1] for views in filed])
        query = _padded([_fines(fp.query) for fp in fingerprints])
        return cls(_stack(fingerprints), *plain, *query, *brightened)

    @classmethod
    def parse(cls, texts: Sequence[str]) -> tuple[Stack, list[int]]:
        """The stack of those ``texts`` that ``Fingerprint.from_string`` accepts, and their positions."""
        kept, variants, counts, stored, query, brightened = [], [], [], [], [], []
        for number, text in enumerate(texts):
            try:
                raw, count, n_stored, _, start = _layout(text)
            except ValueError:
                continue
            kept.append(number)
            counts.append(count)
            variants.append(raw[2 : 2 + count * _VARIANT.size] + bytes((2 - count) * _VARIANT.size))
            fines = np.frombuffer(raw, dtype=_VIEW_DTYPE, offset=start)["fine"]
            plain, lit = _split(fines[:n_stored], count)
            stored.append(plain)
            brightened.append(lit)
            query.append(fines[n_stored:])
        packed = np.frombuffer(b"".join(variants), dtype=_VARIANT_DTYPE).reshape(len(kept), 2)
        hashes = {name: packed["hashes"][:, :, i].astype(np.uint64) for i, name in enumerate(_HASHES)}
        hashes["colour"] = (packed["colour"].astype(np.uint64) << _COLOUR_SHIFTS).sum(axis=2, dtype=np.uint64)
        hashes["chroma"] = packed["chroma"].astype(np.float32)
        hashes["present"] = np.arange(2)[None, :] < np.array(counts, dtype=np.int64).reshape(-1, 1)
        return cls(hashes, *_padded(stored), *_padded(query), *_padded(brightened)), kept


def _padded(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged rows of fine hashes as one zero-padded (n, longest) uint64 matrix and its validity mask."""
    width = max((len(row) for row in rows), default=0)
    matrix = np.zeros((len(rows), width), dtype=np.uint64)
    valid = np.zeros((len(rows), width), dtype=bool)
    for number, row in enumerate(rows):
        matrix[number, : len(row)] = row
        valid[number, : len(row)] = True
    return matrix, valid


class DuplicateIndex:
    """An in-memory key index, the same lookup the ``photo_keys`` table gives the database.

    ``candidates`` returns the ids sharing a key with the new photo's guesses, best fine-hash distance
    first, at most ``limit``; ``find`` judges them (with local features when given).
    """

    def __init__(self) -> None:
        self._rows: dict[int, list[tuple[Hashable, int]]] = defaultdict(list)
        self._fingerprints: dict[Hashable, Fingerprint] = {}
        self._features: dict[Hashable, Features | None] = {}

    def __len__(self) -> int:
        return len(self._fingerprints)

    def add(self, key: Hashable, fp: Fingerprint, features: Features | None = None) -> None:
        self._fingerprints[key] = fp
        self._features[key] = features
        for row_key, fine in fp.index_rows():
            self._rows[row_key].append((key, fine))

    def shortlist(
        self, fp: Fingerprint, *, limit: int | None = SHORTLIST, exclude: Hashable | None = None
    ) -> list[Hashable]:
        """The ids sharing a key with ``fp``'s guesses, best fine-hash distance first (``exclude``: the
        photo's own id, when it is in the index itself)."""
        lookup = fp.lookup_keys()
        best: dict[Hashable, int] = {}
        for row_key in lookup:
            for key, fine in self._rows.get(row_key, ()):
                if key == exclude:
                    continue
                distance = fine_distance(lookup, row_key, fine)
                if distance < best.get(key, 65):
                    best[key] = distance
        return rank_candidates(best, limit)

    def candidates(
        self, fp: Fingerprint, *, limit: int = CANDIDATES, exclude: Hashable | None = None
    ) -> list[Hashable]:
        """The ones worth verifying: the shortlist's ``limit`` best by ``view_distance`` and hash score, then
        ``BRIGHTENED_CANDIDATES`` more (``pick_stacked``)."""
        shortlist = self.shortlist(fp, exclude=exclude)
        return pick_candidates(fp, {key: self._fingerprints[key] for key in shortlist}, limit)

    def find(self, fp: Fingerprint, features: Features | None = None) -> list[tuple[Hashable, Verdict]]:
        """Stored photos judged to be ``fp``'s photo, best hash score first."""
        found = []
        for key in self.candidates(fp):
            verdict = judge(fp, self._fingerprints[key], features, self._features[key])
            if verdict.is_duplicate:
                found.append((key, verdict))
        return sorted(found, key=lambda item: item[1].score)


def pick_candidates(fp: Fingerprint, shortlist: dict, limit: int = CANDIDATES) -> list:
    """The shortlist's (id -> Fingerprint, in fine-hash order) ``limit`` best by ``view_distance`` plus
    ``HASH_WEIGHT`` times the hash score, ties in the shortlist's order, then ``BRIGHTENED_CANDIDATES``
    more by the brightened views (``pick_stacked``).

    The shortlist's order looks at one view per photo, the one whose key matched; among six kinds of
    look-alike scene that put the source below 40 others for one copy in twenty. Both photos' views
    agreeing at several zooms, in both directions, picks it out; the hash score adds what survives a
    brightened copy, whose views move more than its whole-picture hashes (measured in
    docs/performance.md, "Reused photos").
    """
    keys = list(shortlist)
    if not keys:
        return []
    return pick_stacked(fp, keys, Stack.of([shortlist[key] for key in keys]), limit)


def pick_stacked(
    fp: Fingerprint, keys: Sequence, others: Stack, limit: int = CANDIDATES, brightened: int = BRIGHTENED_CANDIDATES
) -> list:
    """``pick_candidates`` of a shortlist already in a ``Stack`` (``keys``: its ids, in the stack's order),
    and after them the ``brightened`` best of the rest by the brightened views' agreement (``_agreements``)
    plus the hash score.

    A brightened copy agrees with its source's brightened views, not with its plain ones, so the plain
    ranking can leave its source behind look-alikes. Ranking the brightened views with the plain ones
    cost the field set 1.2 points (``_split``); a second, separate ranking that adds two more candidates
    found 6 more mild and 2 more field copies and flagged no more distinct photo on either set, where
    four more flagged one (docs/performance.md, "Reused photos").
    """
    if not len(others):
        return []
    hashed = HASH_WEIGHT * _scores(Stack.of([fp]), others)[0]
    plain, lit = _agreements(fp, others)
    first = np.argsort(plain + hashed, kind="stable")[:limit]
    then = np.argsort(lit + hashed, kind="stable")
    then = then[~np.isin(then, first)][:brightened]
    return [keys[i] for i in (*first, *then)]


def view_distance(new: Fingerprint, stored: Fingerprint) -> int:
    """How far apart two photos' views are, in bits: ``view_distances`` of one pair."""
    return int(view_distances(new, [stored])[0])


def view_distances(new: Fingerprint, others: Sequence[Fingerprint]) -> np.ndarray:
    """For each of ``others``, the fine-hash distance of its views to ``new``'s, in both directions.

    Each of the other's stored views (its core at three zooms) is matched to the nearest of ``new``'s
    guesses (mirror, tilt, crop scale), and each of ``new``'s stored views to the nearest of the other's
    guesses; the best ``AGREEING_VIEWS`` of each direction are summed (0 .. 256). The same photo agrees
    at several zooms and either way round (the original's zoomed-in guess is the copy's core); a
    look-alike scene matches one view by chance, seldom four.
    """
    return _agreements(new, Stack.of(others))[0]


def _agreements(new: Fingerprint, others: Stack) -> tuple[np.ndarray, np.ndarray]:
    """``view_distances`` against a stack (all pairs of views at once), and the same with one photo's
    brightened views in place of its plain ones, whichever photo that suits better.

    A brightened copy's own views agree with its source's brightened views (stored against guesses one
    way) and with nothing brightened the other way (the guesses are plain), so the second figure takes
    the brightened views in one direction and the plain ones in the other, the better way round.
    """
    plain, lit = _split(_fines(new.stored), len(new.variants))
    guesses = _fines(new.query)[None, :]
    everywhere = np.ones_like(guesses, dtype=bool)
    theirs = _best_views(others.stored, others.stored_valid, guesses, everywhere)
    ours = _best_views(plain[None, :], np.ones((1, len(plain)), dtype=bool), others.query, others.query_valid)
    theirs_lit = _best_views(others.brightened, others.brightened_valid, guesses, everywhere)
    ours_lit = _best_views(lit[None, :], np.ones((1, len(lit)), dtype=bool), others.query, others.query_valid)
    width = (len(others),)
    return (
        np.broadcast_to(theirs + ours, width).astype(np.int64),
        np.broadcast_to(np.minimum(theirs_lit + ours, theirs + ours_lit), width).astype(np.int64),
    )


def _fines(views: Sequence[ViewKey]) -> np.ndarray:
    return np.fromiter((v.fine for v in views), dtype=np.uint64, count=len(views))


def _split(stored: np.ndarray, variants: int) -> tuple[np.ndarray, np.ndarray]:
    """The filed views as the rankings compare them: each variant's plain ones, and its brightened ones.

    The plain ranking compares the plain views only: with the brightened ones among them, they brought
    look-alikes forward and cost the field set 1.2 points of recall (docs/performance.md, "Reused
    photos"). The brightened ones have their own ranking (``_agreements``), which adds a few
    candidates. A fingerprint made before they existed files 3 views per variant, all of them plain.
    """
    per_variant = 2 * len(STORED_SCALES)
    if variants < 1 or len(stored) != per_variant * variants:
        return stored, stored[:0]
    plain = np.arange(len(stored)) % per_variant < len(STORED_SCALES)
    return stored[plain], stored[~plain]


def _best_views(stored: np.ndarray, stored_valid: np.ndarray, query: np.ndarray, query_valid: np.ndarray) -> np.ndarray:
    """Per row, the sum of the ``AGREEING_VIEWS`` smallest distances of a stored view to its nearest guess
    (64 for a missing view or no guesses); rows of 1 broadcast against rows of n."""
    distance = np.bitwise_count(stored[:, :, None] ^ query[:, None, :])
    nearest = np.where(query_valid[:, None, :], distance, 64).min(axis=2, initial=64)
    nearest = np.where(stored_valid, nearest, 64).astype(np.int64)
    if nearest.shape[1] < AGREEING_VIEWS:
        missing = np.full((nearest.shape[0], AGREEING_VIEWS - nearest.shape[1]), 64, dtype=np.int64)
        nearest = np.concatenate([nearest, missing], axis=1)
    return np.sort(nearest, axis=1)[:, :AGREEING_VIEWS].sum(axis=1)


def rank_candidates(best: dict, limit: int | None = SHORTLIST) -> list:
    """Candidate ids by fine-hash distance (ties by id, so the order is stable), at most ``limit``."""
    ordered = sorted(best, key=lambda key: (best[key], str(key)))
    return ordered if limit is None else ordered[:limit]


def shortlist_rows(
    lookup: dict[int, list[int]], ids: np.ndarray, keys: np.ndarray, fines: np.ndarray, limit: int = SHORTLIST
) -> list[int]:
    """The shortlist from ``photo_keys`` rows (int64 photo ids, keys, uint64 fine hashes): the same as
    ``rank_candidates`` of each photo's best ``fine_distance``, in bulk.

    At 10^6 stored photos a lookup reads some 15,000 rows; one Python call per row was the larger part
    of its CPU (docs/performance.md, "Scale").
    """
    if not len(ids) or not lookup:
        return []
    wanted = np.array(sorted(lookup), dtype=np.int64)
    width = max(len(guesses) for guesses in lookup.values())
    guesses = np.array(
        [lookup[key] + lookup[key][:1] * (width - len(lookup[key])) for key in sorted(lookup)], dtype=np.uint64
    )
    at = np.minimum(np.searchsorted(wanted, keys), len(wanted) - 1)
    shared = wanted[at] == keys  # rows of other keys share none (the database query reads none)
    ids, at = ids[shared], at[shared]
    distance = np.bitwise_count(fines[shared, None] ^ guesses[at]).min(axis=1).astype(np.int64)
    order = np.lexsort((distance, ids))
    ids, distance = ids[order], distance[order]
    first = np.concatenate([[True], ids[1:] != ids[:-1]])
    ids, distance = ids[first], distance[first]
    if len(ids) > limit:  # only ties at the cut need rank_candidates' order by id
        keep = distance <= np.partition(distance, limit - 1)[limit - 1]
        ids, distance = ids[keep], distance[keep]
    return rank_candidates(dict(zip(ids.tolist(), distance.tolist(), strict=True)), limit)


def _hashes(image: Image.Image) -> Hashes:
    grey = image.convert("L")
    w, h = grey.size
    box = (
        round(w * CENTRE_MARGIN),
        round(h * CENTRE_MARGIN),
        round(w * (1 - CENTRE_MARGIN)),
        round(h * (1 - CENTRE_MARGIN)),
    )
    centre = grey.crop(box)
    ycc = np.asarray(image.convert("YCbCr").resize((4, 4), Image.Resampling.BOX), dtype=np.uint8)
    return Hashes(
        phash=_as_int(imagehash.phash(grey)),
        dhash=_as_int(imagehash.dhash(grey)),
        centre_phash=_as_int(imagehash.phash(centre)),
        centre_dhash=_as_int(imagehash.dhash(centre)),
        colour=_as_int(imagehash.colorhash(image, binbits=3)),
        chroma=ycc[:, :, 1:].tobytes(),
    )


def _as_int(value: imagehash.ImageHash) -> int:
    bits = np.asarray(value.hash, dtype=bool).flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def _inside_frame(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The box inside a uniform frame present on all four sides, in ``image`` coordinates, or None.

    All four sides are required because a single uniform edge is usually content (sky, a white wall);
    up to three nested frames (a mount inside a border) are peeled. The check runs on a small copy so
    sensor noise is averaged out, then the box is scaled back.
    """
    probe = image.copy()
    probe.thumbnail((FRAME_PROBE_SIDE, FRAME_PROBE_SIDE), Image.Resampling.BOX)
    pixels = np.asarray(probe, dtype=np.float32)
    height, width, _ = pixels.shape
    top, bottom, left, right = 0, height, 0, width
    for _ in range(3):
        if bottom - top < 8 or right - left < 8:
            break
        ring = np.concatenate(
            [
                pixels[top, left:right],
                pixels[bottom - 1, left:right],
                pixels[top:bottom, left],
                pixels[top:bottom, right - 1],
            ]
        )
        colour = np.median(ring, axis=0)

        def uniform(line: np.ndarray, colour: np.ndarray = colour) -> bool:
            return float(np.mean(np.max(np.abs(line - colour), axis=1) < FRAME_TOLERANCE)) >= FRAME_SHARE

        max_rows, max_cols = (bottom - top) * FRAME_MAX_SHARE, (right - left) * FRAME_MAX_SHARE
        t, b, l, r = top, bottom, left, right  # noqa: E741
        while t - top < max_rows and uniform(pixels[t, left:right]):
            t += 1
        while bottom - b < max_rows and uniform(pixels[b - 1, left:right]):
            b -= 1
        while l - left < max_cols and uniform(pixels[t:b, l]):
            l += 1  # noqa: E741
        while right - r < max_cols and uniform(pixels[t:b, r - 1]):
            r -= 1
        if min(t - top, bottom - b, l - left, right - r) < 1:
            break
        top, bottom, left, right = t, b, l, r
    if (top, bottom, left, right) == (0, height, 0, width):
        return None
    sx, sy = image.width / width, image.height / height
    return round(left * sx), round(top * sy), round(right * sx), round(bottom * sy)


def _distances(a: Hashes, b: Hashes) -> dict[str, float]:
    distances = {name: (getattr(a, name) ^ getattr(b, name)).bit_count() / 64 for name in _HASHES}
    distances["colour"] = (a.colour ^ b.colour).bit_count() / COLOUR_BITS
    chroma_a = np.frombuffer(a.chroma, dtype=np.uint8).astype(np.float32)
    chroma_b = np.frombuffer(b.chroma, dtype=np.uint8).astype(np.float32)
    distances["chroma"] = min(float(np.abs(chroma_a - chroma_b).mean()) / 64, 1.0)
    distances["score"] = sum(WEIGHTS[name] * distances[name] for name in WEIGHTS) / sum(WEIGHTS.values())
    return distances


def _stack(fingerprints: Sequence[Fingerprint]) -> dict[str, np.ndarray]:
    """Column arrays (n, 2 variants) of every hash, for ``pairwise_scores``."""
    n = len(fingerprints)
    arrays = {name: np.zeros((n, 2), dtype=np.uint64) for name in (*_HASHES, "colour")}
    arrays["chroma"] = np.zeros((n, 2, 32), dtype=np.float32)
    arrays["present"] = np.zeros((n, 2), dtype=bool)
    for row, fp in enumerate(fingerprints):
        for column, variant in enumerate(fp.variants):
            for name in (*_HASHES, "colour"):
                arrays[name][row, column] = getattr(variant, name)
            arrays["chroma"][row, column] = np.frombuffer(variant.chroma, dtype=np.uint8)
            arrays["present"][row, column] = True
    return arrays
