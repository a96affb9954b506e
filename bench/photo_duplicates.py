"""Benchmark of near-duplicate photo detection (media.duplicates) on a labelled synthetic set.

Run from the repository root:

    .venv/bin/python -m bench.photo_duplicates                # 400 originals, about 4,200 files, ~3 min
    .venv/bin/python -m bench.photo_duplicates --originals 60  # a quick look

The set (bench/photo_scenes.py): ``--originals`` scenes of six survey kinds, about 30 % of them also shot
from a second spot (similar but distinct), and for every distinct photo one copy per alteration with a
random strength. It measures, at the default threshold:

- recall per alteration: share of (original, altered copy) pairs that ``match`` flags;
- false flags on distinct pairs: share of pairs of *different* photos flagged, both among the distinct
  photos themselves and among all files (altered copies against other photos), plus the share of distinct
  photos that are flagged with at least one other, and the rate among second-viewpoint pairs alone;
- the key index: share of flagged duplicates that the candidate lookup (the view keys) returns, and how much of the
  collection a lookup fetches;
- a baseline: one 64-bit pHash on the raw picture at the threshold that gives 1 % false pairs;
- a threshold sweep, and time per fingerprint and per thousand match scores.

Figures are printed as Markdown and written to ``--out`` (JSON and Markdown); docs/media.md quotes them.
This measures the hash score (``match``) on its own; the detector as the ``photos`` job runs it (lookup,
hashes, keypoints) is measured by bench/photo_reuse.py on this set and on the field set.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.photo_scenes import ALTERATIONS, LabelledPhoto, make_photo_family, scenes_for
from media.duplicates import (
    DEFAULT_THRESHOLD,
    DuplicateIndex,
    Fingerprint,
    fingerprint,
    match,
    pairwise_scores,
)

SWEEP = (0.12, 0.14, 0.15, 0.165, 0.18, 0.2, 0.22)


@dataclass
class LabelledSet:
    photos: list[LabelledPhoto]
    fingerprints: list[Fingerprint]
    seconds_per_fingerprint: float

    @property
    def originals(self) -> list[int]:
        return [i for i, photo in enumerate(self.photos) if photo.alteration is None]


def build(directory: Path, originals: int, seed: int, workers: int) -> LabelledSet:
    scenes = scenes_for(originals, seed)
    jobs = [(directory, index, scene, seed) for index, scene in enumerate(scenes)]
    with ProcessPoolExecutor(workers) as pool:
        photos = [photo for family in pool.map(_family, jobs, chunksize=8) for photo in family]
        started = time.perf_counter()
        fingerprints = list(pool.map(_fingerprint, [photo.path for photo in photos], chunksize=32))
        elapsed = time.perf_counter() - started
    return LabelledSet(photos, fingerprints, elapsed * workers / len(photos))


def _family(job: tuple[Path, int, object, int]) -> list[LabelledPhoto]:
    directory, index, scene, seed = job
    return make_photo_family(directory, index, scene, seed)  # type: ignore[arg-type]


def _fingerprint(path: Path) -> Fingerprint:
    return fingerprint(path)


def evaluate(data: LabelledSet, threshold: float = DEFAULT_THRESHOLD) -> dict:
    photos, fps = data.photos, data.fingerprints
    first = {photo.original: i for i, photo in enumerate(photos) if photo.alteration is None}
    duplicate_pairs = [(first[p.original], i, p.alteration) for i, p in enumerate(photos) if p.alteration]
    duplicate_scores = np.array([match(fps[a], fps[b]).score for a, b, _ in duplicate_pairs])
    kinds = np.array([alteration for _, _, alteration in duplicate_pairs])

    started = time.perf_counter()
    all_scores = _all_pair_scores(fps)
    seconds_per_thousand = (time.perf_counter() - started) / (len(fps) ** 2 / 2) * 1000

    origin = np.array([photo.original for photo in photos])
    different = origin[:, None] != origin[None, :]
    upper = np.triu(np.ones_like(different), k=1)
    distinct_all = all_scores[different & upper]
    originals = np.array(data.originals)
    original_scores = all_scores[np.ix_(originals, originals)]
    distinct_originals = original_scores[np.triu_indices(len(originals), k=1)]
    scenes = [photos[i].scene for i in originals]
    siblings = np.array(
        [original_scores[i, j] for i in range(len(scenes)) for j in range(i + 1, len(scenes))
         if scenes[i].seed == scenes[j].seed]
    )  # fmt: skip

    kind_of = np.array([photos[i].scene.kind for i in originals])
    documents = kind_of == "document"

    def flagged_photos(t: float, keep: np.ndarray | None = None) -> float:
        hits = original_scores <= t
        np.fill_diagonal(hits, False)
        if keep is not None:
            hits = hits[np.ix_(keep, keep)]
        return float(hits.any(axis=1).mean())

    def document_pairs(t: float) -> float:
        block = original_scores[np.ix_(documents, documents)]
        return float((block[np.triu_indices(int(documents.sum()), k=1)] <= t).mean())

    def row(t: float) -> dict:
        caught = duplicate_scores <= t
        return {
            "threshold": t,
            "recall": float(caught.mean()),
            "recall_by_alteration": {a: float(caught[kinds == a].mean()) for a in ALTERATIONS},
            "false_pairs_distinct_photos": float((distinct_originals <= t).mean()),
            "false_pairs_all_files": float((distinct_all <= t).mean()),
            "photos_flagged": flagged_photos(t),
            "photos_flagged_without_documents": flagged_photos(t, ~documents),
            "false_pairs_documents": document_pairs(t),
            "false_pairs_second_viewpoint": float((siblings <= t).mean()) if len(siblings) else None,
        }

    same_kind = {}
    for kind in dict.fromkeys(kind_of):
        members = np.flatnonzero(kind_of == kind)
        block = original_scores[np.ix_(members, members)][np.triu_indices(len(members), k=1)]
        same_kind[kind] = {"pairs": len(block), "false_pairs": float((block <= threshold).mean())}
    cross = original_scores[(kind_of[:, None] != kind_of[None, :])]
    same_kind["different kinds"] = {
        "pairs": len(cross) // 2,
        "false_pairs": float((cross <= threshold).mean()),
    }

    index = DuplicateIndex()
    for i in originals:
        index.add(i, fps[i])
    caught_pairs = [
        (a, b) for (a, b, _), s in zip(duplicate_pairs, duplicate_scores, strict=True) if s <= threshold
    ]
    returned = fetched = 0
    for a, b in caught_pairs:
        candidates = index.shortlist(fps[b], limit=None)
        returned += a in candidates
        fetched += len(candidates)

    baseline = _baseline(fps, duplicate_pairs, originals, kinds)
    return {
        "distinct_photos": len(originals),
        "second_viewpoint_pairs": len(siblings),
        "files": len(photos),
        "duplicate_pairs": len(duplicate_pairs),
        "distinct_pairs_photos": len(distinct_originals),
        "distinct_pairs_all_files": len(distinct_all),
        "at_default": row(threshold),
        "false_pairs_by_kind": same_kind,
        "sweep": [row(t) for t in SWEEP],
        "index": {
            "candidate_recall": returned / max(1, len(caught_pairs)),
            "fetched_share": fetched / max(1, len(caught_pairs)) / len(originals),
        },
        "baseline_single_phash": baseline,
        "ms_per_fingerprint": data.seconds_per_fingerprint * 1000,
        "ms_per_thousand_scores": seconds_per_thousand * 1000,
    }


def _all_pair_scores(fps: list[Fingerprint], block: int = 400) -> np.ndarray:
    scores = np.empty((len(fps), len(fps)), dtype=np.float32)
    for start in range(0, len(fps), block):
        scores[start : start + block] = pairwise_scores(fps[start : start + block], fps)
    return scores


def _baseline(fps: list[Fingerprint], pairs: list, originals: np.ndarray, kinds: np.ndarray) -> dict:
    """One pHash of the whole picture, threshold set where 1 % of distinct pairs are flagged."""
    ph = np.array([fp.variants[0].phash for fp in fps], dtype=np.uint64)
    sub = ph[originals]
    distinct = np.bitwise_count(sub[:, None] ^ sub[None, :])[np.triu_indices(len(sub), k=1)]
    threshold = int(np.quantile(distinct, 0.01))
    while (distinct <= threshold).mean() > 0.01:
        threshold -= 1
    duplicate = np.array([int(ph[a] ^ ph[b]).bit_count() for a, b, _ in pairs])
    caught = duplicate <= threshold
    return {
        "hamming_threshold": threshold,
        "false_pairs_distinct_photos": float((distinct <= threshold).mean()),
        "recall": float(caught.mean()),
        "recall_by_alteration": {a: float(caught[kinds == a].mean()) for a in ALTERATIONS},
    }


def markdown(result: dict) -> str:
    d = result["at_default"]
    lines = [
        f"Labelled set: {result['distinct_photos']} distinct photos "
        f"({result['second_viewpoint_pairs']} pairs of the same scene from two spots), "
        f"{result['files']} files, {result['duplicate_pairs']} reuse pairs, "
        f"{result['distinct_pairs_photos']:,} distinct-photo pairs, {result['distinct_pairs_all_files']:,} "
        "pairs of files showing different photos.",
        "",
        f"At the default threshold {d['threshold']}:",
        "",
        "| alteration | recall |",
        "|---|---|",
        *[f"| {a} | {v:.1%} |" for a, v in d["recall_by_alteration"].items()],
        f"| **all** | **{d['recall']:.1%}** |",
        "",
        "| false flags | rate |",
        "|---|---|",
        f"| pairs of distinct photos | {d['false_pairs_distinct_photos']:.3%} |",
        f"| pairs of files showing different photos (copies included) | {d['false_pairs_all_files']:.3%} |",
        f"| pairs of the same scene from two spots | {d['false_pairs_second_viewpoint']:.1%} |",
        f"| distinct photos flagged with at least one other | {d['photos_flagged']:.1%} |",
        "",
        "False pairs among photos of the same kind, at the default threshold:",
        "",
        "| kind | pairs | false pairs |",
        "|---|---|---|",
        *[
            f"| {k} | {v['pairs']:,} | {v['false_pairs']:.3%} |"
            for k, v in result["false_pairs_by_kind"].items()
        ],
        "",
        "| threshold | recall | worst alteration | false pairs (photos) | false pairs (all files) "
        "| photos flagged | false pairs (documents) | photos flagged (documents excluded) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["sweep"]:
        worst = min(row["recall_by_alteration"].items(), key=lambda item: item[1])
        lines.append(
            f"| {row['threshold']} | {row['recall']:.1%} | {worst[0]} {worst[1]:.1%} | "
            f"{row['false_pairs_distinct_photos']:.3%} | {row['false_pairs_all_files']:.3%} | "
            f"{row['photos_flagged']:.1%} | {row['false_pairs_documents']:.2%} | "
            f"{row['photos_flagged_without_documents']:.1%} |"
        )
    b = result["baseline_single_phash"]
    lines += [
        "",
        f"Baseline, one pHash at Hamming <= {b['hamming_threshold']} "
        f"({b['false_pairs_distinct_photos']:.2%} false pairs): recall {b['recall']:.1%} ("
        + ", ".join(f"{a} {v:.0%}" for a, v in b["recall_by_alteration"].items())
        + ").",
        "",
        f"Key index (a shared view key): returns {result['index']['candidate_recall']:.1%} of the "
        f"duplicates the matcher flags, fetching {result['index']['fetched_share']:.2%} of the collection "
        "per lookup.",
        "",
        f"Speed: {result['ms_per_fingerprint']:.1f} ms per fingerprint (decode included, one core), "
        f"{result['ms_per_thousand_scores']:.3f} ms per thousand scores in bulk (numpy).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--originals", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="photo-duplicates-") as directory:
        data = build(Path(directory), args.originals, args.seed, args.workers)
        result = evaluate(data)
    result["seed"] = args.seed
    result["wall_seconds"] = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "photo_duplicates.json").write_text(json.dumps(result, indent=2))
    text = markdown(result)
    (args.out / "photo_duplicates.md").write_text(text + "\n")
    print(text)
    print(f"\n({result['wall_seconds']:.0f} s; written to {args.out}/photo_duplicates.json and .md)")


if __name__ == "__main__":
    main()
