"""Parameter table: the shipped §7 set, fallback order, versions, and clear errors (docs/domain.md §0.2)."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from forms.rules.parameters import (
    COLUMNS,
    PARAMETER_DIR,
    SPECS,
    MissingParameter,
    ParameterTableError,
    UnknownParameterKey,
    load_parameters,
)

HEADER = ",".join(COLUMNS)


def test_shipped_table_holds_the_section7_set() -> None:
    p2019 = load_parameters("15", "150121", 2019, "TCHES2018")
    p2021 = load_parameters("15", "150121", 2021, "TCHES2018")
    p2018 = load_parameters("15", "150121", 2018, "TCHES2018")
    exit2018 = load_parameters("15", "150121", 2019, "EXIT2018")
    assert p2019.water_region_class == "dry"
    assert p2021.monitoring_line == Decimal(6000)
    assert p2019.monitoring_line == Decimal(5000)
    assert p2019.dibao_line == Decimal(4400)
    assert p2018.exit_line == Decimal(2995)
    assert p2019.exit_line == Decimal(3218)
    assert p2019.drop_ratio == Decimal("0.5")
    assert p2019.count_unsold_produce is False
    assert p2019.rule_d6_enabled is False
    assert exit2018.exit_quantity_min == Decimal(20)
    assert p2019.exit_quantity_min == Decimal(35)  # the 20 L row is keyed to EXIT2018 only


@pytest.mark.parametrize(
    ("year", "line"),
    [
        (2010, 2300),
        (2014, 2800),
        (2015, 2855),
        (2016, 2952),
        (2017, 2952),
        (2018, 2995),
        (2019, 3218),
        (2020, 4000),
    ],
)
def test_national_poverty_lines_of_section_5_2(year: int, line: int) -> None:
    params = load_parameters("21", None, year, "TCHES2018")
    assert params.poverty_line == Decimal(line)
    assert params.exit_line == Decimal(line)


def test_liaoning_falls_back_to_national_income_lines() -> None:
    params = load_parameters("21", "210102", 2021, "TCHES2018")
    assert params.monitoring_line == Decimal(6000)
    assert params.monitor_line_local is None
    assert params.dibao_line is None
    assert params.version == "CN@2025.1+21@2025.1"


def test_verdict_provenance_names_the_rows_used() -> None:
    params = load_parameters("15", "150121", 2019, "TCHES2018")
    assert params.profile == "TCHES2018"
    assert params.version == "CN@2025.1+15@2025.1"
    source = params.source("monitor_line_local")
    assert source is not None
    assert (source.level, source.file, source.tag) == ("province", "15-inner-mongolia.csv", "G")
    assert params.source("water_quantity_basic_dry").level == "national"  # type: ignore[union-attr]
    assert params.source("exit_line_local") is None


def _write(directory: Path, name: str, rows: list[str]) -> None:
    (directory / name).write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")


@pytest.fixture
def table(tmp_path: Path) -> Path:
    """A copy of the shipped table plus county and province overrides for one test."""
    for path in PARAMETER_DIR.glob("*.csv"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    _write(
        tmp_path,
        "150121.csv",
        [
            "15,150121,,,water_region_class,wet,c7,G,county override",
            "15,150121,2019,,dibao_line,4600,c7,G,county line for 2019 only",
            "15,150121,,EXIT2018,exit_quantity_min,25,c7,G,county EXIT2018 minimum",
        ],
    )
    return tmp_path


def test_fallback_order_county_then_province_then_national(table: Path) -> None:
    county = load_parameters("15", "150121", 2019, "TCHES2018", directory=table)
    other_county = load_parameters("15", "150102", 2019, "TCHES2018", directory=table)
    assert county.water_region_class == "wet"  # county row
    assert other_county.water_region_class == "dry"  # province row
    assert county.dibao_line == Decimal(4600)  # county row for the exact year
    assert load_parameters("15", "150121", 2021, "TCHES2018", directory=table).dibao_line == Decimal(4400)
    assert county.water_quantity_full_dry == Decimal(40)  # national row
    assert county.source("dibao_line").level == "county"  # type: ignore[union-attr]
    assert county.version == "CN@2025.1+15@2025.1+150121@c7"
    assert other_county.version == "CN@2025.1+15@2025.1"


def test_exact_profile_beats_all_profiles_and_county_beats_province(table: Path) -> None:
    assert load_parameters("15", "150121", 2019, "EXIT2018", directory=table).exit_quantity_min == Decimal(25)
    assert load_parameters("15", "150102", 2019, "EXIT2018", directory=table).exit_quantity_min == Decimal(20)
    assert load_parameters("15", "150102", 2019, "TCHES2018", directory=table).exit_quantity_min == Decimal(
        35
    )


def test_exact_year_beats_all_years_at_the_same_level(table: Path) -> None:
    _write(table, "15-extra.csv", ["15,,2021,,dibao_line,5200,p2,V,yearly standard"])
    assert load_parameters("15", None, 2021, "TCHES2018", directory=table).dibao_line == Decimal(5200)
    assert load_parameters("15", None, 2019, "TCHES2018", directory=table).dibao_line == Decimal(4400)


def test_an_edited_file_is_picked_up_without_restart(table: Path) -> None:
    before = load_parameters("15", "150121", 2019, "TCHES2018", directory=table)
    path = table / "150121.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("4600,c7", "4700,c8"), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    after = load_parameters("15", "150121", 2019, "TCHES2018", directory=table)
    assert (before.dibao_line, after.dibao_line) == (Decimal(4600), Decimal(4700))
    assert after.version == "CN@2025.1+15@2025.1+150121@c7+150121@c8"
    assert before.digest != after.digest


def test_excel_byte_order_mark_is_accepted(table: Path) -> None:
    (table / "bom.csv").write_bytes(("\ufeff" + HEADER + "\n15,150102,,,drop_ratio,0.4,b1,P,\n").encode())
    assert load_parameters("15", "150102", 2019, "TCHES2018", directory=table).drop_ratio == Decimal("0.4")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (("15", None, 2019, "WATER2004"), "unknown rule profile 'WATER2004'"),
        (("99", None, 2019, "TCHES2018"), "province 99 has no rows"),
        (("Inner Mongolia", None, 2019, "TCHES2018"), "2-digit"),
        (("15", "210102", 2019, "TCHES2018"), "inside province 15"),
        (("15", "1501", 2019, "TCHES2018"), "6-digit"),
        (("15", None, 1999, "TCHES2018"), "no parameter rows for year 1999"),
        (("15", None, 2036, "TCHES2018"), "no parameter rows for year 2036"),  # after the forms' last year
    ],
)
def test_unknown_key_gives_a_clear_error(key: tuple, message: str) -> None:
    with pytest.raises(UnknownParameterKey, match=message):
        load_parameters(*key)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("15,,,,drop_ratio,half,x1,P,", "national-bad.csv line 2: drop_ratio must be a number"),
        ("15,,,,dorp_ratio,0.5,x1,P,", "unknown parameter name 'dorp_ratio'"),
        ("15,,,,water_region_class,humid,x1,G,", "must be one of wet, dry"),
        ("15,,,,drop_ratio,0.5,,P,", "needs a version"),
        ("15,,,,drop_ratio,0.5,x1,X,", "tag must be V, G or P"),
        ("15,210102,,,drop_ratio,0.5,x1,P,", "county must be 6 digits starting with the province code"),
        ("15,,19,,drop_ratio,0.5,x1,P,", "year must be 4 digits"),
        ("15,,,,rule_d6_enabled,yes,x1,P,", "must be 0 or 1"),
        ("15,,,,dibao_line,4400,x1,G,", "duplicate of 15-inner-mongolia.csv line 4"),
    ],
)
def test_malformed_rows_are_reported_with_file_and_line(table: Path, row: str, message: str) -> None:
    _write(table, "national-bad.csv", [row])
    with pytest.raises(ParameterTableError, match=message):
        load_parameters("15", None, 2019, "TCHES2018", directory=table)


def test_wrong_header_is_reported(table: Path) -> None:
    (table / "x.csv").write_text("province,county,year,name,value\n", encoding="utf-8")
    with pytest.raises(ParameterTableError, match="x.csv: header must be"):
        load_parameters("15", None, 2019, "TCHES2018", directory=table)


def test_missing_required_parameter_names_it(tmp_path: Path) -> None:
    _write(tmp_path, "only.csv", ["15,,2019,,dibao_line,4400,v1,G,"])
    with pytest.raises(MissingParameter, match="housing_max_storeys"):
        load_parameters("15", None, 2019, "TCHES2018", directory=tmp_path)


def test_empty_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ParameterTableError, match="no parameter files"):
        load_parameters("15", None, 2019, "TCHES2018", directory=tmp_path)


def test_every_parameter_is_documented() -> None:
    docs = (Path(__file__).parents[3] / "docs" / "rules.md").read_text(encoding="utf-8")
    assert [name for name in SPECS if f"`{name}`" not in docs] == []


def test_documented_county_example_loads(table: Path) -> None:
    docs = (Path(__file__).parents[3] / "docs" / "rules.md").read_text(encoding="utf-8")
    section = docs[docs.index("### How a county edits") :]
    rows = [line for line in section.splitlines() if line.startswith("15,150121,")]
    assert len(rows) == 2
    (table / "150121.csv").unlink()
    _write(table, "150121.csv", rows)
    params = load_parameters("15", "150121", 2026, "TCHES2018", directory=table)
    assert (params.water_region_class, params.dibao_line) == ("wet", Decimal(6480))
    # No province row is in force here; the national rows of 2026 (the monitoring line) have their own version.
    assert params.version == "CN@2025.1+CN@2026.1+150121@2026-03"


def _shipped_counties() -> list[str]:
    import csv

    from forms.locations import MEDIA_DIR

    with (MEDIA_DIR / "admin.csv").open(encoding="utf-8") as handle:
        return [row["name"] for row in csv.DictReader(handle) if row["level"] == "county"]


@pytest.mark.parametrize("year", range(2014, 2036))
def test_every_year_the_forms_accept_resolves_in_every_shipped_county(year: int) -> None:
    """Survey dates from 2014 and income years to 2035 are accepted by the forms; none may lack its lines."""
    counties = _shipped_counties()
    assert {county[:2] for county in counties} == {"15", "21"}
    for county in counties:
        for profile in ("TCHES2018", "EXIT2018"):
            params = load_parameters(county[:2], county, year, profile)
            assert params.year == year
            # Monitoring exists from 2020 on (a local cut-off in Inner Mongolia in 2019); the exit test ends in 2020.
            assert (params.monitoring_line is not None) == (year >= 2020 or (year == 2019 and county[:2] == "15"))
            assert (params.exit_line is not None) == (year <= 2020)


@pytest.mark.parametrize(("year", "line"), [(2022, 6300), (2023, 6600), (2026, 6600), (2035, 6600)])
def test_monitoring_lines_after_2021_and_the_figure_carried_forward(year: int, line: int) -> None:
    params = load_parameters("21", "211322", year, "TCHES2018")
    assert params.monitoring_line == Decimal(line)
    source = params.source("monitor_line")
    assert source is not None and source.tag == "G" and source.year == year
    if year >= 2024:  # no figure yet: the row says what it is
        note = next(
            row for row in (PARAMETER_DIR / "national.csv").read_text(encoding="utf-8").splitlines()
            if row.startswith(f",,{year},,monitor_line,")
        )
        assert "carried forward" in note
