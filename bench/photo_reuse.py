"""Benchmark of reused-photo detection as the ``photos`` job does it: lookup, then verdict, per new photo.

Run from the repository root:

    .venv/bin/python -m bench.photo_reuse                     # field set (300 scenes) + mild set (400), ~10 min
    .venv/bin/python -m bench.photo_reuse --field 60 --mild 0  # a quick look

Two labelled sets, made once and kept in ``bench/results/cache/`` (git-ignored):

- the **field** set (bench/photo_field.py): ``--field`` first-visit scenes, their later visits (same
  household), rows of same-design houses (each its own household), every distinct photo with three
  reused copies for other households, each copy with 2-4 field alterations;
- the **mild** set (bench/photo_scenes.py, the earlier recipe): ``--mild`` scenes, second viewpoints,
  one copy per mild alteration.

Every file is fingerprinted and its local features computed (``media.duplicates.examine``, timed), and
all go into one ``DuplicateIndex``. Then every file is looked up against all the others, as if it were the
newest photo: the candidates ``DuplicateIndex.candidates`` picks are judged (``judge``). Measured:

- recall: share of reused copies whose source photo is among the photos judged the same;
- false flags: share of distinct photos judged the same as a photo of another household that is neither
  its copy nor its source (nor its own later visit), and the same for the copies;
- recall per alteration (copies containing it), candidate recall (source among the candidates at all),
  per-pair timings, and, for comparison, the hash score alone at the earlier threshold.

Figures go to ``--out`` (JSON and Markdown); docs/performance.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.photo_field import FIELD_ALTERATIONS, FieldPhoto, field_scenes, make_field_family
from bench.photo_scenes import ALTERATIONS, make_photo_family, scenes_for
from media.duplicates import (
    BRIGHTENED_CANDIDATES,
    CANDIDATES,
    DEFAULT_THRESHOLD,
    DuplicateIndex,
    Fingerprint,
    examine,
    judge,
    match,
)
from media.keypoints import Features

COPIES = 3


@dataclass
class Item:
    photo: FieldPhoto
    fp: Fingerprint
    features: Features


def field_set(directory: Path, originals: int, seed: int, workers: int) -> list[FieldPhoto]:
    """Make (or reuse from ``directory``) the field set's files."""
    listing = directory / "photos.pkl"
    if listing.exists():
        return pickle.loads(listing.read_bytes())
    directory.mkdir(parents=True, exist_ok=True)
    scenes = field_scenes(originals, seed)
    families: dict[int, int] = {}
    jobs, household = [], 1_000_000
    for index, scene in enumerate(scenes):
        family = families.setdefault(scene.seed, len(families))
        jobs.append((directory, index, scene, seed, COPIES, household, family))
        household += COPIES
    with ProcessPoolExecutor(workers) as pool:
        photos = [photo for family in pool.map(_field_family, jobs, chunksize=4) for photo in family]
    listing.write_bytes(pickle.dumps(photos))
    return photos


def mild_set(directory: Path, originals: int, seed: int, workers: int) -> list[FieldPhoto]:
    """The earlier set (bench/photo_scenes.py) in the field set's terms: each copy for another household."""
    listing = directory / "photos.pkl"
    if listing.exists():
        return pickle.loads(listing.read_bytes())
    directory.mkdir(parents=True, exist_ok=True)
    scenes = scenes_for(originals, seed)
    with ProcessPoolExecutor(workers) as pool:
        labelled = [
            p for fam in pool.map(_mild_family, [(directory, i, s, seed) for i, s in enumerate(scenes)]) for p in fam
        ]
    photos = []
    for number, p in enumerate(labelled):
        alterations = (p.alteration,) if p.alteration else ()
        household = p.original if p.alteration is None else 1_000_000 + number
        role = "copy" if p.alteration else "original"
        photos.append(
            FieldPhoto(p.path, p.original, household, p.original, p.scene.kind, role, alterations, p.description)
        )
    listing.write_bytes(pickle.dumps(photos))
    return photos


def _field_family(job: tuple) -> list[FieldPhoto]:
    return make_field_family(*job)


def _mild_family(job: tuple) -> list:
    return make_photo_family(*job)


def _examine(path: Path) -> tuple[Fingerprint, Features, float]:
    started = time.process_time()
    fp, features = examine(path)
    return fp, features, time.process_time() - started


def evaluate(photos: list[FieldPhoto], workers: int, alterations: tuple[str, ...]) -> dict:
    with ProcessPoolExecutor(workers) as pool:
        examined = list(pool.map(_examine, [p.path for p in photos], chunksize=16))
    return assess(photos, examined, alterations)


def assess(
    photos: list[FieldPhoto], examined: list[tuple[Fingerprint, Features, float]], alterations: tuple[str, ...]
) -> dict:
    """The lookup and the verdict for every file as the newest photo, from already examined files."""
    items = [Item(p, fp, features) for p, (fp, features, _) in zip(photos, examined, strict=True)]
    index = DuplicateIndex()
    for number, item in enumerate(items):
        index.add(number, item.fp, item.features)
    source_of = {item.photo.source: n for n, item in enumerate(items) if item.photo.role != "copy"}
    started = time.process_time()
    pairs = 0
    results = []
    for number, item in enumerate(items):
        lookup_started = time.process_time()
        candidates = index.candidates(item.fp, exclude=number)
        lookup = time.process_time() - lookup_started
        found = []
        for other in candidates:
            verdict = judge(item.fp, items[other].fp, item.features, items[other].features)
            pairs += 1
            if verdict.is_duplicate:
                found.append((other, verdict))
        results.append((candidates, found, lookup))
    seconds = time.process_time() - started

    def related(a: int, b: int) -> bool:
        pa, pb = items[a].photo, items[b].photo
        return pa.family == pb.family

    recall_hits, candidate_hits, per_alteration = [], [], defaultdict(list)
    hash_only = []
    false_distinct, false_copies = [], []
    evidence = defaultdict(int)
    for number, (candidates, found, _) in enumerate(results):
        photo = items[number].photo
        wrong = [o for o, _ in found if items[o].photo.household != photo.household and not related(number, o)]
        if photo.role == "copy":
            source = source_of[photo.source]
            hit = any(o == source for o, _ in found)
            recall_hits.append(hit)
            candidate_hits.append(source in candidates)
            for alteration in photo.alterations:
                per_alteration[alteration].append(hit)
            hash_only.append(match(items[number].fp, items[source].fp).score <= DEFAULT_THRESHOLD)
            for o, verdict in found:
                if o == source:
                    evidence[verdict.evidence] += 1
            false_copies.append(bool(wrong))
        else:
            false_distinct.append(bool(wrong))
    misses = [
        _miss(index, items, number, source_of[items[number].photo.source], results[number])
        for number in range(len(items))
        if items[number].photo.role == "copy"
        and not any(o == source_of[items[number].photo.source] for o, _ in results[number][1])
    ]
    by_role = defaultdict(list)
    for number, (_, found, _) in enumerate(results):
        photo = items[number].photo
        if photo.role != "copy":
            by_role[photo.role].append(
                any(items[o].photo.household != photo.household and not related(number, o) for o, _ in found)
            )
    by_count = defaultdict(list)
    for number, (_, found, _) in enumerate(results):
        photo = items[number].photo
        if photo.role == "copy":
            by_count[len(photo.alterations)].append(any(o == source_of[photo.source] for o, _ in found))
    return {
        "files": len(items),
        "distinct_photos": len(false_distinct),
        "copies": len(recall_hits),
        "roles": {role: len(v) for role, v in by_role.items()},
        "recall": float(np.mean(recall_hits)),
        "candidate_recall": float(np.mean(candidate_hits)),
        "recall_by_alteration": {a: float(np.mean(per_alteration[a])) for a in alterations if per_alteration[a]},
        "copies_by_alteration": {a: len(per_alteration[a]) for a in alterations if per_alteration[a]},
        "recall_by_count": {str(k): float(np.mean(v)) for k, v in sorted(by_count.items())},
        "distinct_photos_falsely_flagged": float(np.mean(false_distinct)),
        "falsely_flagged_by_role": {role: float(np.mean(v)) for role, v in by_role.items()},
        "copies_falsely_flagged": float(np.mean(false_copies)),
        "hash_score_alone_recall": float(np.mean(hash_only)),
        "evidence": dict(evidence),
        "misses_by_stage": {stage: sum(m["stage"] == stage for m in misses) for stage in STAGES},
        "misses": misses,
        "ms_examine_per_photo": float(np.mean([e[2] for e in examined]) * 1000),
        "ms_lookup_per_photo": float(np.mean([r[2] for r in results]) * 1000),
        "ms_judge_per_pair": (seconds - sum(r[2] for r in results)) / max(1, pairs) * 1000,
    }


STAGES = ("no shared key", "outside the shortlist", "not among the judged", "judged and refused")


def _miss(index: DuplicateIndex, items: list[Item], number: int, source: int, result: tuple) -> dict:
    """Where a missed copy's source was lost: no key shared, below the shortlist's cut, not among the
    candidates judged, or judged and refused (then the verdict's figures)."""
    candidates, _, _ = result
    item = items[number]
    if source in candidates:
        verdict = judge(item.fp, items[source].fp, item.features, items[source].features)
        checked = verdict.verification
        stage, extra = (
            "judged and refused",
            {
                "score": round(verdict.score, 4),
                "inliers": checked.inliers if checked is not None else None,
                "area": round(checked.area, 4) if checked is not None else None,
            },
        )
    elif source in index.shortlist(item.fp, exclude=number):
        stage, extra = "not among the judged", {}
    elif source in index.shortlist(item.fp, limit=None, exclude=number):
        stage, extra = "outside the shortlist", {}
    else:
        stage, extra = "no shared key", {}
    photo = item.photo
    return {
        "file": photo.path.name,
        "kind": photo.kind,
        "alterations": list(photo.alterations),
        "stage": stage,
        **extra,
    }


def markdown(name: str, r: dict) -> str:
    lines = [
        f"**{name}**: {r['files']} files, {r['distinct_photos']} distinct photos "
        f"({', '.join(f'{v} {k}' for k, v in r['roles'].items())}), {r['copies']} reused copies.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| reuses flagged (recall) | {r['recall']:.1%} |",
        f"| source among the {CANDIDATES + BRIGHTENED_CANDIDATES} candidates | {r['candidate_recall']:.1%} |",
        f"| distinct photos falsely flagged | {r['distinct_photos_falsely_flagged']:.2%} |",
        *[f"| ... of them {k} | {v:.2%} |" for k, v in r["falsely_flagged_by_role"].items()],
        f"| copies flagged with a wrong photo | {r['copies_falsely_flagged']:.2%} |",
        f"| hash score alone at {DEFAULT_THRESHOLD} (earlier detector), recall | {r['hash_score_alone_recall']:.1%} |",
        "",
        "| alteration | copies | recall |",
        "|---|---|---|",
        *[f"| {a} | {r['copies_by_alteration'][a]} | {v:.1%} |" for a, v in r["recall_by_alteration"].items()],
        "",
        "Recall by number of alterations: "
        + ", ".join(f"{k}: {v:.1%}" for k, v in r["recall_by_count"].items())
        + f". Evidence for the flagged reuses: {r['evidence']}.",
        "Missed reuses by the stage that lost them: "
        + ", ".join(f"{stage} {count}" for stage, count in r["misses_by_stage"].items())
        + " (each miss listed in the JSON).",
        f"Time (one core): examine {r['ms_examine_per_photo']:.1f} ms per photo (decode, hashes, views, ORB), "
        f"lookup {r['ms_lookup_per_photo']:.2f} ms, verdict {r['ms_judge_per_pair']:.2f} ms per candidate.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--field", type=int, default=300)
    parser.add_argument("--mild", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args()
    cache = args.out / "cache"
    result, text = {}, []
    if args.field:
        photos = field_set(cache / f"field-{args.field}-{args.seed}", args.field, args.seed, args.workers)
        result["field"] = evaluate(photos, args.workers, FIELD_ALTERATIONS)
        text.append(markdown("Field set", result["field"]))
    if args.mild:
        photos = mild_set(cache / f"mild-{args.mild}-{args.seed}", args.mild, args.seed, args.workers)
        result["mild"] = evaluate(photos, args.workers, ALTERATIONS)
        text.append(markdown("Mild set", result["mild"]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "photo_reuse.json").write_text(json.dumps(result, indent=2))
    (args.out / "photo_reuse.md").write_text("\n\n".join(text) + "\n")
    print("\n\n".join(text))


if __name__ == "__main__":
    main()
