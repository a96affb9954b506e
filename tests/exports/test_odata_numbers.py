"""The OData feed writes a stored answer's text as it stands where Python's json would write the same
(sync/exports/odata.py: ``_INTS``, ``_DECIMALS``, ``_POINT_TEXT``); everywhere else it converts. Both must
give json's bytes, checked here against ``json.dumps`` on texts at every edge of those patterns."""

from __future__ import annotations

import json
import random

from sync.exports.odata import FeedOptions, _Converter, _decimals, _ints

EDGES = [
    "0", "-0", "00", "007", "1_000", "+1", "1.0", "1.00", "0.0", "-0.0", "0.0001", "0.00012", "0.00001",
    "0.00010", "1e5", "1E-3", "nan", "inf", "-inf", "Infinity", "123456789012345.0", "12345678901234.5",
    "0.123456789012345", "0.1234567890123456", "9999999999999999", "99999999999999999999", "100.0", "5.",
    ".5", "-.5", "1.5e3", "٣", "1" * 19, "-" + "9" * 18, "1.", "-", ".", "",
]


def _reference_number(text: str, kind: type) -> str:
    try:
        return json.dumps(kind(text)) if text else "null"
    except ValueError:
        return "null"


def _texts() -> list[str]:
    rng = random.Random(11)
    out = list(EDGES)
    for _ in range(20000):
        choice = rng.random()
        if choice < 0.4:
            out.append(f"{rng.uniform(-1e6, 1e6):.{rng.randint(0, 8)}f}")
        elif choice < 0.6:
            out.append(repr(rng.uniform(-10, 10) * 10 ** rng.randint(-8, 17)))
        elif choice < 0.8:
            out.append(str(rng.randint(-(10**20), 10**20)))
        else:
            out.append("".join(rng.choice("0123456789.-") for _ in range(rng.randint(1, 18))))
    return out


def test_number_texts_are_written_as_json_writes_the_number() -> None:
    texts = _texts()
    for text in texts:
        assert _decimals((text,))[0] == _reference_number(text, float), text
        assert _ints((text,))[0] == _reference_number(text, int), text
    # a row at a time, as the feed converts them: one odd value must not change the others
    for start in range(0, 2000, 7):
        row = tuple(texts[start : start + 7])
        assert list(_decimals(row)) == [_reference_number(t, float) for t in row]
        assert list(_ints(row)) == [_reference_number(t, int) for t in row]


def test_geopoints_are_written_as_json_writes_the_geojson() -> None:
    converter = _Converter.__new__(_Converter)  # point() reads only the options
    converter.options = FeedOptions()
    rng = random.Random(5)
    points = [
        f"{rng.uniform(-90, 90):.{rng.randint(0, 7)}f} {rng.uniform(-180, 180):.{rng.randint(0, 7)}f}"
        + rng.choice(["", " 100.0", " 12.50 5.0", " 0 0", " 1.5 2.5 3", " 0.00001 1e3"])
        for _ in range(5000)
    ] + ["1 2", "1.0 2.0", "40.1  111.5", "nan 1.0", "inf -inf 1.0 2.0"]
    for text in points:
        numbers = [float(part) for part in text.split()]
        point = {"type": "Point", "coordinates": [numbers[1], numbers[0], *numbers[2:3]]}
        if len(numbers) > 3:
            point["properties"] = {"accuracy": numbers[3]}
        assert converter.point(text) == json.dumps(point), text
    assert converter.point("a b") == "null" and converter.point("1.0") == "null"
