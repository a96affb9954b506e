"""Near-duplicate detection on a small labelled set (the fast version of bench/photo_duplicates.py)."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from bench.photo_field import FIELD_ALTERATIONS, FieldPhoto, FieldScene, field_scenes, make_field_family, render_field
from bench.photo_scenes import ALTERATIONS, LabelledPhoto, make_labelled_set, make_photo_family, render, scenes_for
from media.duplicates import (
    BRIGHTENED_CANDIDATES,
    CANDIDATES,
    HASH_THRESHOLD,
    NEAR_HASH_THRESHOLD,
    NEAR_MIN_AREA,
    NEAR_MIN_INLIERS,
    SHORTLIST,
    DuplicateIndex,
    Fingerprint,
    Stack,
    examine,
    fingerprint,
    judge,
    match,
    pairwise_scores,
    pick_stacked,
    shortlist_rows,
    view_distance,
)
from media.images import UnreadableImage
from media.keypoints import MIN_AREA, MIN_CONTAINMENT, MIN_INLIERS, Features
from tests.media.photos import MILD_SEED, barely_hashed_reuse, kitchen_from_two_spots, scene, write_jpeg

SINGLE_ALTERATIONS = [a for a in ALTERATIONS if a != "combined"]


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[LabelledPhoto], list[Fingerprint]]:
    """40 scenes (about 52 distinct photos with the second viewpoints) and 7 altered copies of each."""
    photos = make_labelled_set(tmp_path_factory.mktemp("labelled"), originals=40, seed=11)
    return photos, [fingerprint(photo.path) for photo in photos]


def test_reused_photos_are_caught_and_distinct_photos_are_not(
    labelled: tuple[list[LabelledPhoto], list[Fingerprint]],
) -> None:
    photos, fps = labelled
    original = {p.original: fps[i] for i, p in enumerate(photos) if p.alteration is None}
    caught: dict[str, list[bool]] = {a: [] for a in ALTERATIONS}
    for photo, fp in zip(photos, fps, strict=True):
        if photo.alteration:
            caught[photo.alteration].append(match(original[photo.original], fp).is_duplicate)
    recall = {a: float(np.mean(v)) for a, v in caught.items()}
    overall = float(np.mean([hit for hits in caught.values() for hit in hits]))
    assert overall >= 0.95, recall
    for alteration in SINGLE_ALTERATIONS:
        assert recall[alteration] >= 0.9, recall
    assert recall["combined"] >= 0.8, recall

    distinct = list(original.values())
    flags = [match(a, b).is_duplicate for i, a in enumerate(distinct) for b in distinct[i + 1 :]]
    assert len(distinct) > 45
    assert np.mean(flags) <= 0.01, f"{sum(flags)} of {len(flags)} distinct pairs flagged"


def test_pairwise_scores_equal_match_scores(labelled: tuple[list[LabelledPhoto], list[Fingerprint]]) -> None:
    _, fps = labelled
    sample = fps[::9]
    framed = [fp for fp in fps if fp.framed][:3]
    assert framed, "the border copies must produce framed fingerprints"
    sample = sample + framed
    scores = pairwise_scores(sample, sample)
    expected = np.array([[match(a, b).score for b in sample] for a in sample])
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_index_finds_the_original_of_a_reused_photo(
    labelled: tuple[list[LabelledPhoto], list[Fingerprint]],
) -> None:
    photos, fps = labelled
    index = DuplicateIndex()
    for i, photo in enumerate(photos):
        if photo.alteration is None:
            index.add(photo.original, fps[i])
    found = 0
    copies = [(p, fp) for p, fp in zip(photos, fps, strict=True) if p.alteration in ("resize", "border", "crop")]
    for photo, fp in copies:
        hits = index.find(fp)  # without local features: the strict hash score alone decides
        found += bool(hits) and hits[0][0] == photo.original
        assert len(index.shortlist(fp, limit=None)) < len(index) / 2, "a lookup must not fetch most of the collection"
    assert found / len(copies) >= 0.9


@pytest.fixture(scope="module")
def field(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[FieldPhoto, Fingerprint, Features]]:
    """The field set in small: 8 scenes (later visits and a row of same-design houses included), two
    reused copies of each distinct photo for other households, each with 2-4 field alterations."""
    folder = tmp_path_factory.mktemp("field")
    scenes = field_scenes(8, seed=4, later_share=0.3, row_share=1.0)
    photos: list[FieldPhoto] = []
    for number, shot in enumerate(scenes):
        photos += make_field_family(folder, number, shot, 4, 2, 1000 + 2 * number, shot.seed)
    return [(photo, *examine(photo.path)) for photo in photos]


def test_field_reuses_are_found_and_look_alikes_are_not(field: list[tuple[FieldPhoto, Fingerprint, Features]]) -> None:
    """Every file is looked up against all the others, as the photos job does for a new photo."""
    roles = {photo.role for photo, _, _ in field}
    assert {"original", "later_visit", "row_house", "copy"} <= roles
    index = DuplicateIndex()
    for number, (_, fp, features) in enumerate(field):
        index.add(number, fp, features)
    source = {photo.source: n for n, (photo, _, _) in enumerate(field) if photo.role != "copy"}
    caught, wrong = [], []
    seen: set[str] = set()
    for number, (photo, fp, features) in enumerate(field):
        found = [key for key, _ in index.find(fp, features) if key != number]
        if photo.role == "copy":
            caught.append(source[photo.source] in found)
            seen.update(photo.alterations)
        wrong += [(photo.path.name, field[k][0].path.name) for k in found if field[k][0].family != photo.family]
    assert seen == set(FIELD_ALTERATIONS)
    assert np.mean(caught) >= 0.85, f"{sum(caught)} of {len(caught)} reuses found"
    assert wrong == []  # no same-design neighbour, no other scene


def test_probes_are_keys_a_stored_photo_can_have(labelled: tuple[list[LabelledPhoto], list[Fingerprint]]) -> None:
    """Every key has four ones in each half (signs about the half's median); a probe must too, or it can
    never equal a stored photo's key and the lookup spends half its keys on nothing."""
    _, fps = labelled
    views = [view for fp in fps[::5] for view in fp.query]
    assert len(views) > 1000
    for view in views:
        for value in (view.key, view.probe):
            assert ((value >> 8).bit_count(), (value & 0xFF).bit_count()) == (4, 4), f"{value:016b}"
    swapped = [(view.key ^ view.probe).bit_count() for view in views]
    assert set(swapped) <= {0, 2} and swapped.count(2) > 0.95 * len(views)


BRIGHTENED_FAMILIES = (14, 29, 36)  # mild-set scenes (seed 20240501) whose brightened copy lost its keys


def test_brightened_copies_are_found_through_the_brightened_keys(tmp_path: Path) -> None:
    """Three photos of the mild set whose brightened copy (highlights clipped) shares no key with the
    photo's plain core: the keys of its core brightened (media/views.py, BRIGHTENED) are the ones found."""
    scenes = scenes_for(40, 20240501)
    for index in BRIGHTENED_FAMILIES:
        family = make_photo_family(tmp_path, index, scenes[index], 20240501)
        original = fingerprint(family[0].path)
        copy = fingerprint(next(p for p in family if p.alteration == "brighten").path)
        assert len(original.stored) == 6 * len(original.variants)  # 3 zooms, as it is and brightened
        looked_up = set(copy.lookup_keys())
        assert not looked_up & {view.key for view in original.stored[:3]}
        assert looked_up & {key for key, _ in original.index_rows()}


def test_the_ranking_compares_the_plain_views_only(labelled: tuple[list[LabelledPhoto], list[Fingerprint]]) -> None:
    """The brightened views are filed for the lookup, not ranked: changing them leaves ``view_distance``
    as it was, changing a plain one does not; a fingerprint of the earlier layout (3 plain views per
    variant, made before the brightened keys) is ranked on all of its views."""
    photos, prints = labelled
    new, stored = prints[0], next(fp for fp in prints[1:] if len(fp.variants) == 1)
    assert len(stored.stored) == 6
    before = view_distance(new, stored)

    def flipped(views: tuple, positions: range) -> tuple:
        return tuple(v._replace(fine=v.fine ^ 0xFFFF_FFFF) if i in positions else v for i, v in enumerate(views))

    bright_changed = dataclasses.replace(stored, stored=flipped(stored.stored, range(3, 6)))
    plain_changed = dataclasses.replace(stored, stored=flipped(stored.stored, range(3)))
    assert view_distance(new, bright_changed) == before
    assert view_distance(new, plain_changed) != before
    earlier = dataclasses.replace(stored, stored=stored.stored[:3])
    assert view_distance(new, earlier) == before
    text_stack, _ = Stack.parse([bright_changed.to_string(), earlier.to_string()])
    assert np.array_equal(text_stack.stored, Stack.of([stored, earlier]).stored)


def test_a_brightened_copy_crowded_out_of_the_plain_ranking_is_judged(tmp_path: Path) -> None:
    """Twenty look-alikes whose plain views agree with a brightened copy's perfectly fill the plain
    ranking's 12 before the source; the source, whose brightened views agree with the copy, is among the
    BRIGHTENED_CANDIDATES judged after them. Without that second ranking, or when the source was filed
    before the brightened views existed, it is not judged at all."""
    scenes = scenes_for(40, MILD_SEED)
    strangers = [fingerprint(make_photo_family(tmp_path, n, scenes[n], MILD_SEED)[0].path) for n in range(20)]
    for index in BRIGHTENED_FAMILIES:
        family = make_photo_family(tmp_path, index, scenes[index], MILD_SEED)
        source = fingerprint(family[0].path)
        copy = fingerprint(next(p for p in family if p.alteration == "brighten").path)
        decoys = [dataclasses.replace(s, stored=(*copy.stored[:3], *s.stored[3:]), query=copy.query) for s in strangers]
        keys = ["source", *range(len(decoys))]
        picked = pick_stacked(copy, keys, Stack.of([source, *decoys]))
        assert len(picked) == CANDIDATES + BRIGHTENED_CANDIDATES
        assert "source" not in picked[:CANDIDATES] and "source" in picked[CANDIDATES:], (index, picked)
        assert "source" not in pick_stacked(copy, keys, Stack.of([source, *decoys]), brightened=0)
        earlier = dataclasses.replace(source, stored=source.stored[:3])
        assert "source" not in pick_stacked(copy, keys, Stack.of([earlier, *decoys]))


LOOK_ALIKES = 60
assert CANDIDATES * 4 < LOOK_ALIKES < SHORTLIST


def test_the_source_is_judged_even_behind_many_look_alikes(
    field: list[tuple[FieldPhoto, Fingerprint, Features]],
) -> None:
    """60 look-alikes (other photos one of whose views matches the copy's guess exactly, as a scene of
    the same kind does by chance) come before the source by that view's fine hash, five times as many as
    are judged; the source, whose views agree with the copy's at several zooms and both ways round, is
    still judged. (The shortlist of 40 by fine hash alone lost it.)"""
    source = {photo.source: n for n, (photo, _, _) in enumerate(field) if photo.role != "copy"}
    distinct = [(photo, fp) for photo, fp, _ in field if photo.role != "copy"]
    kept = []
    for number, (photo, fp, _) in enumerate(field):
        if photo.role != "copy":
            continue
        plain = DuplicateIndex()
        for other, (_, other_fp, _) in enumerate(field):
            plain.add(other, other_fp)
        if source[photo.source] not in plain.candidates(fp, exclude=number):
            continue
        crowded = DuplicateIndex()
        for other, (_, other_fp, _) in enumerate(field):
            crowded.add(other, other_fp)
        strangers = [other_fp for other, other_fp in distinct if other.family != photo.family]
        for decoy in range(LOOK_ALIKES):
            base, guess = strangers[decoy % len(strangers)], fp.query[decoy % len(fp.query)]
            stored = (guess, *base.stored[1:])
            crowded.add(("decoy", decoy), dataclasses.replace(base, stored=stored))
        kept.append(source[photo.source] in crowded.candidates(fp, exclude=number))
    assert len(kept) >= 20
    assert np.mean(kept) >= 0.9, f"{sum(kept)} of {len(kept)} sources still judged"


def test_the_database_lookup_judges_the_candidates_the_index_judges(
    field: list[tuple[FieldPhoto, Fingerprint, Features]],
) -> None:
    """The photos job ranks ``photo_keys`` rows and stored fingerprint strings in bulk (shortlist_rows,
    Stack.parse); it must pick the same candidates, in the same order, as the in-memory index."""
    index = DuplicateIndex()
    rows = []
    for number, (_, fp, _) in enumerate(field):
        index.add(number, fp)
        rows += [(number, key, fine) for key, fine in fp.index_rows()]
    table = np.array(rows, dtype=np.uint64)
    texts = [fp.to_string() for _, fp, _ in field]
    for number, (_, fp, _) in enumerate(field):
        lookup = fp.lookup_keys()
        read = table[np.isin(table[:, 1], list(lookup)) & (table[:, 0] != number)]
        shortlist = shortlist_rows(lookup, read[:, 0].astype(np.int64), read[:, 1].astype(np.int64), read[:, 2])
        assert shortlist == index.shortlist(fp, exclude=number)
        stack, parsed = Stack.parse([texts[other] for other in shortlist] + ["not a fingerprint"])
        assert parsed == list(range(len(shortlist)))
        assert pick_stacked(fp, shortlist, stack) == index.candidates(fp, exclude=number)


def test_the_verdict_names_what_was_done(tmp_path: Path) -> None:
    image = render_field(FieldScene("kitchen", 21, household=1))
    original = write_jpeg(tmp_path / "original.jpg", image)
    copy = ImageOps.mirror(image).crop((90, 70, 940, 700)).convert("L").convert("RGB")
    reused = write_jpeg(tmp_path / "copy.jpg", copy.resize((425, 315)), quality=40)
    verdict = judge(*examine(reused)[:1], *examine(original)[:1], examine(reused)[1], examine(original)[1])
    assert verdict.is_duplicate and verdict.evidence == "keypoints"
    assert {"mirrored", "cropped", "resized", "grey"} <= set(verdict.alterations)
    other = write_jpeg(tmp_path / "other.jpg", render_field(FieldScene("kitchen", 22, household=2)))
    assert not judge(*examine(other)[:1], *examine(original)[:1], examine(other)[1], examine(original)[1]).is_duplicate


def test_a_copy_whose_hashes_barely_miss_is_confirmed_by_fewer_keypoints(tmp_path: Path) -> None:
    """The third verdict: a darkened, cropped and shrunk copy of a site scene scores just above the
    strict hash threshold and has fewer keypoint matches than the keypoint verdict needs; together they
    are enough. Without the third verdict this reuse goes unflagged."""
    original, reused = barely_hashed_reuse(tmp_path)
    (stored, stored_features), (new, new_features) = examine(original), examine(reused)
    verdict = judge(new, stored, new_features, stored_features)
    assert verdict.is_duplicate and verdict.evidence == "hashes and keypoints", verdict
    assert HASH_THRESHOLD < verdict.score <= NEAR_HASH_THRESHOLD
    checked = verdict.verification
    assert checked is not None and not checked.confirmed
    assert NEAR_MIN_INLIERS <= checked.inliers < MIN_INLIERS and checked.area >= NEAR_MIN_AREA
    assert {"cropped", "resized"} <= set(verdict.alterations)
    other, other_features = examine(write_jpeg(tmp_path / "other.jpg", render(scenes_for(11, MILD_SEED)[10])))
    assert not judge(new, other, new_features, other_features).is_duplicate  # the mild set's next site scene


def test_the_same_kitchen_from_another_spot_is_not_a_reuse_but_its_copies_are(tmp_path: Path) -> None:
    """A second photo of the scene from another spot matches over what the two have in common, with as
    many keypoints as a reuse; what tells them apart is that neither picture lies inside the other. The
    copies, every one cut out of (or framed around) its source, are still found."""
    first, second = kitchen_from_two_spots(tmp_path)
    examined = {photo.path: examine(photo.path) for photo in first + second}
    (stored, stored_features), (new, new_features) = examined[first[0].path], examined[second[0].path]
    verdict = judge(new, stored, new_features, stored_features)
    checked = verdict.verification
    assert checked is not None
    assert checked.inliers >= MIN_INLIERS and checked.area >= MIN_AREA  # the matches alone would flag it
    assert checked.containment < MIN_CONTAINMENT and not verdict.is_duplicate
    for family, other in ((first, second[0]), (second, first[0])):
        source, source_features = examined[family[0].path]
        other_fp, other_features = examined[other.path]
        for copy in family[1:]:
            reused, reused_features = examined[copy.path]
            found = judge(reused, source, reused_features, source_features)
            assert found.is_duplicate, copy.description
            assert found.verification is not None and found.verification.one_within_other, copy.description
            assert not judge(reused, other_fp, reused_features, other_features).is_duplicate, copy.description


def test_fingerprint_string_round_trip_and_rejects(tmp_path: Path) -> None:
    plain = fingerprint(write_jpeg(tmp_path / "a.jpg"))
    framed_image = Image.new("RGB", (720, 560), (255, 255, 255))
    framed_image.paste(scene(), (40, 40))
    framed = fingerprint(write_jpeg(tmp_path / "framed.jpg", framed_image))
    assert not plain.framed and framed.framed
    for fp in (plain, framed):
        text = fp.to_string()
        assert text.isascii() and len(text) <= 2400
        assert Fingerprint.from_string(text) == fp
    parsed, kept = Stack.parse([plain.to_string(), "AQE", framed.to_string()])
    built = Stack.of([plain, framed])
    assert kept == [0, 2]
    for name, column in built.hashes.items():
        np.testing.assert_array_equal(parsed.hashes[name], column)
    for name in ("stored", "stored_valid", "query", "query_valid", "brightened", "brightened_valid"):
        np.testing.assert_array_equal(getattr(parsed, name), getattr(built, name))
    assert match(plain, framed).is_duplicate
    for bad in ("", "hello", plain.to_string()[:-8], "AQE" + plain.to_string()[3:]):
        with pytest.raises(ValueError):
            Fingerprint.from_string(bad)


def test_orientation_tag_and_baked_in_rotation_give_the_same_photo(tmp_path: Path) -> None:
    upright = scene((480, 640), seed=3)
    tagged = write_jpeg(tmp_path / "tagged.jpg", upright.transpose(Image.Transpose.ROTATE_90), orientation=6)
    baked = write_jpeg(tmp_path / "baked.jpg", upright)
    result = match(fingerprint(tagged), fingerprint(baked))
    assert result.is_duplicate and result.score < 0.05
    other = fingerprint(write_jpeg(tmp_path / "other.jpg", scene((480, 640), seed=4)))
    assert not match(fingerprint(baked), other).is_duplicate


def test_match_details_explain_the_score(tmp_path: Path) -> None:
    a = fingerprint(write_jpeg(tmp_path / "a.jpg", scene(seed=1)))
    b = fingerprint(write_jpeg(tmp_path / "b.jpg", scene(seed=2)))
    result = match(a, b)
    assert not result.is_duplicate
    assert set(result.details) >= {
        "phash",
        "dhash",
        "centre_phash",
        "centre_dhash",
        "chroma",
        "colour",
        "score",
    }
    assert result.details["score"] == result.score
    assert match(a, a).score == 0 and match(a, a).is_duplicate


def test_unreadable_file_cannot_be_fingerprinted(tmp_path: Path) -> None:
    path = tmp_path / "x.jpg"
    out = io.BytesIO()
    scene().save(out, "JPEG")
    path.write_bytes(out.getvalue()[:2000])
    with pytest.raises(UnreadableImage):
        fingerprint(path)
