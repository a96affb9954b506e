"""Rule parameters: thresholds read from CSV files and resolved for (province, county, year, rule_profile).

docs/domain.md §0.2: every threshold lives in a rule-parameter table, not in code, and each verdict records
the rule profile and parameter version it used. The table ships as CSV files in
`forms/rules/parameters/` (one file per level is the convention: `national.csv`, one per province, one
per county that overrides anything); every `*.csv` file in the directory is read and the key columns of
each row, not the file name, decide where it applies. Columns:

    province, county, year, profile, name, value, version, tag, note

A blank key cell means "any": a row without `province` is a national default, a row without `county`
applies to the whole province, a row without `year` to every year, a row without `profile` to every
profile. For each parameter the most specific matching row wins: county before province before
national, then a row for the exact year before an all-years row, then a row for the exact profile
before an all-profiles row. `version` is free text the editor changes with every edit; the versions of
the rows actually used make up `RuleParameters.version`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal

PARAMETER_DIR = Path(__file__).with_name("parameters")
COLUMNS = ("province", "county", "year", "profile", "name", "value", "version", "tag", "note")
PROFILES = ("TCHES2018", "EXIT2018")
"""Rule profiles with an implementation (docs/domain.md §4.1); a profile is also recorded on housing and
income verdicts, whose rules do not vary by profile."""

TAGS = ("V", "G", "P")
Level = Literal["national", "province", "county"]
_LEVEL_RANK: dict[Level, int] = {"national": 0, "province": 1, "county": 2}
_PROVINCE = re.compile(r"^[0-9]{2}$")
_COUNTY = re.compile(r"^[0-9]{6}$")
_YEAR = re.compile(r"^[0-9]{4}$")


class ParameterError(Exception):
    """Base class of every parameter problem."""


class ParameterTableError(ParameterError, ValueError):
    """A parameter file is malformed; the message names the file and line."""


class UnknownParameterKey(ParameterError, LookupError):
    """The (province, county, year, profile) asked for is not covered by the table."""


class MissingParameter(ParameterError, LookupError):
    """A required parameter has no row anywhere in the fallback chain."""


@dataclass(frozen=True)
class ParameterSource:
    """The table row a resolved parameter came from (for audit)."""

    name: str
    value: str
    level: Level
    province: str | None
    county: str | None
    year: int | None
    profile: str | None
    version: str
    tag: str
    file: str
    line: int

    @property
    def scope(self) -> str:
        """`CN` for national rows, else the province or county code."""
        return self.county or self.province or "CN"


@dataclass(frozen=True)
class RuleParameters:
    """Thresholds in force for one (province, county, year, rule_profile), with their provenance.

    Optional fields are the yearly lines of docs/domain.md §5.2; they are None when the table has no figure
    for the year, and the rules then report an issue instead of guessing.
    """

    province: str
    county: str | None
    year: int
    profile: str
    version: str
    digest: str
    # Housing (§3.1, §3.4)
    housing_max_storeys: int
    seismic_retrofit_intensity: int
    # Water, TCHES2018 (§4.2, §4.4)
    water_region_class: str
    water_quantity_full_wet: Decimal
    water_quantity_basic_wet: Decimal
    water_quantity_full_dry: Decimal
    water_quantity_basic_dry: Decimal
    water_fetch_full_minutes: Decimal
    water_fetch_basic_minutes: Decimal
    water_fetch_basic_horizontal_m: Decimal
    water_fetch_basic_vertical_m: Decimal
    water_reliability_full: Decimal
    water_reliability_basic: Decimal
    water_lab_max_age_months: int
    # Water, EXIT2018 (§4.2)
    exit_quantity_min: Decimal
    exit_fetch_max_minutes: Decimal
    exit_fetch_round_trip_horizontal_m: Decimal
    exit_fetch_vertical_m: Decimal
    exit_reliability_central: Decimal
    # Income (§5.2, §5.4, §5.6)
    drop_ratio: Decimal
    count_unsold_produce: bool
    rule_d6_enabled: bool
    income_pc_warn_high: Decimal
    income_pc_warn_low: Decimal
    poverty_line: Decimal | None = None
    exit_line_local: Decimal | None = None
    monitor_line: Decimal | None = None
    monitor_line_local: Decimal | None = None
    dibao_line: Decimal | None = None
    # The clearance ledger (docs/ledger.md): 1 where the county counts 基本达标 water as a problem [P].
    water_basic_is_problem: bool | None = None
    sources: tuple[ParameterSource, ...] = field(default=(), compare=False, repr=False)

    @property
    def exit_line(self) -> Decimal | None:
        """Income line for exit decisions: max(national line, local exit line) (§5.2 [V])."""
        lines = [line for line in (self.poverty_line, self.exit_line_local) if line is not None]
        return max(lines) if lines else None

    @property
    def monitoring_line(self) -> Decimal | None:
        """Monitoring line in force: the local (province / county) figure when set, else the national
        reference figure (§5.2; from 2021 each province sets its own range [V], the precedence is [P])."""
        return self.monitor_line_local if self.monitor_line_local is not None else self.monitor_line

    def source(self, name: str) -> ParameterSource | None:
        """The row a parameter was taken from, or None if it has no value."""
        return next((src for src in self.sources if src.name == name), None)


_KEY_FIELDS = frozenset({"province", "county", "year", "profile", "version", "digest", "sources"})


@dataclass(frozen=True)
class _Spec:
    kind: Literal["decimal", "int", "bool", "choice"]
    required: bool
    choices: tuple[str, ...] = ()


def _build_specs() -> dict[str, _Spec]:
    specs: dict[str, _Spec] = {}
    for item in fields(RuleParameters):
        if item.name in _KEY_FIELDS:
            continue
        required = item.default is not None
        annotation = str(item.type)
        if item.name == "water_region_class":
            specs[item.name] = _Spec("choice", True, ("wet", "dry"))
        elif annotation.startswith("bool"):
            specs[item.name] = _Spec("bool", required)
        elif annotation.startswith("int"):
            specs[item.name] = _Spec("int", required)
        else:
            specs[item.name] = _Spec("decimal", required)
    return specs


SPECS: Mapping[str, _Spec] = _build_specs()
"""Every parameter name a table row may use, with its type."""


@dataclass(frozen=True)
class _Row:
    source: ParameterSource
    value: Decimal | int | bool | str


@dataclass(frozen=True)
class ParameterTable:
    """All rows of a parameter directory, validated; `resolve` answers one key."""

    rows: tuple[_Row, ...]

    @classmethod
    def from_directory(cls, directory: Path) -> ParameterTable:
        """Read and validate every `*.csv` file in `directory`."""
        files = sorted(directory.glob("*.csv"))
        if not files:
            raise ParameterTableError(f"no parameter files (*.csv) in {directory}")
        rows: list[_Row] = []
        for path in files:
            rows.extend(_read_file(path))
        _reject_duplicates(rows)
        return cls(tuple(rows))

    def overlaid(self, overlay: ParameterTable) -> ParameterTable:
        """This table with ``overlay``'s rows replacing the rows they share a key with (``row_key``)."""
        replaced = {row_key(row.source) for row in overlay.rows}
        return ParameterTable(tuple(row for row in self.rows if row_key(row.source) not in replaced) + overlay.rows)

    @property
    def provinces(self) -> frozenset[str]:
        return frozenset(row.source.province for row in self.rows if row.source.province)

    def resolve(self, province: str, county: str | None, year: int, profile: str) -> RuleParameters:
        """Resolve every parameter for one key, falling back county -> province -> national."""
        county = county or None
        self._check_key(province, county, year, profile)
        chosen: dict[str, _Row] = {}
        for row in self.rows:
            src = row.source
            if not _matches(src, province, county, year, profile):
                continue
            current = chosen.get(src.name)
            if current is None or _rank(src) > _rank(current.source):
                chosen[src.name] = row
        missing = [name for name, spec in SPECS.items() if spec.required and name not in chosen]
        if missing:
            raise MissingParameter(
                f"no value for {', '.join(missing)} at province {province}, county {county or '-'}, "
                f"year {year}, profile {profile}: add a row to the parameter table"
            )
        used = sorted(chosen.values(), key=lambda row: row.source.name)
        versions = sorted(
            {(_LEVEL_RANK[row.source.level], row.source.scope, row.source.version) for row in used}
        )
        version = "+".join(f"{scope}@{ver}" for _, scope, ver in versions)
        digest_text = "\n".join(
            f"{r.source.name}={r.source.value}|{r.source.scope}|{r.source.year}|{r.source.profile}|"
            f"{r.source.version}"
            for r in used
        )
        digest = hashlib.sha256(digest_text.encode()).hexdigest()[:12]
        values = {name: row.value for name, row in chosen.items()}
        return RuleParameters(
            province=province,
            county=county,
            year=year,
            profile=profile,
            version=version,
            digest=digest,
            sources=tuple(row.source for row in used),
            **values,  # type: ignore[arg-type]
        )

    def _check_key(self, province: str, county: str | None, year: int, profile: str) -> None:
        if profile not in PROFILES:
            raise UnknownParameterKey(f"unknown rule profile {profile!r}; known: {', '.join(PROFILES)}")
        if not isinstance(province, str) or not _PROVINCE.match(province):
            raise UnknownParameterKey(f"province must be a 2-digit GB/T 2260 code, got {province!r}")
        if province not in self.provinces:
            known = ", ".join(sorted(self.provinces))
            raise UnknownParameterKey(
                f"province {province} has no rows in the parameter table; known: {known}"
            )
        if county is not None and (
            not isinstance(county, str) or not _COUNTY.match(county) or not county.startswith(province)
        ):
            raise UnknownParameterKey(
                f"county must be a 6-digit GB/T 2260 code inside province {province}, got {county!r}"
            )
        if isinstance(year, bool) or not isinstance(year, int):
            raise UnknownParameterKey(f"year must be an integer, got {year!r}")
        years = {
            row.source.year
            for row in self.rows
            if row.source.year is not None and _matches(row.source, province, county, year, profile)
        }
        if year not in years:
            raise UnknownParameterKey(
                f"no parameter rows for year {year} (province {province}, county {county or '-'}): "
                "add that year's lines (poverty, monitoring, 低保) to the table"
            )


def _matches(src: ParameterSource, province: str, county: str | None, year: int, profile: str) -> bool:
    return (
        src.province in (None, province)
        and (src.county is None or src.county == county)
        and src.year in (None, year)
        and src.profile in (None, profile)
    )


def _rank(src: ParameterSource) -> tuple[int, int, int]:
    return (_LEVEL_RANK[src.level], src.year is not None, src.profile is not None)


def _read_file(path: Path) -> list[_Row]:
    # utf-8-sig: a file saved by Excel starts with a byte-order mark.
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        header = tuple(name.strip() for name in reader.fieldnames or ())
        if header != COLUMNS:
            raise ParameterTableError(
                f"{path.name}: header must be {','.join(COLUMNS)}, got {','.join(header)}"
            )
        rows = []
        for cells in reader:
            line = reader.line_num
            values = {key.strip(): (value or "").strip() for key, value in cells.items() if key is not None}
            if not any(values.values()):
                continue
            rows.append(_parse_row(values, path.name, line))
        return rows


def _parse_row(cells: Mapping[str, str], file: str, line: int) -> _Row:
    where = f"{file} line {line}"
    province = cells["province"] or None
    county = cells["county"] or None
    if province is not None and not _PROVINCE.match(province):
        raise ParameterTableError(f"{where}: province must be 2 digits, got {province!r}")
    if county is not None and (
        province is None or not _COUNTY.match(county) or not county.startswith(province)
    ):
        raise ParameterTableError(f"{where}: county must be 6 digits starting with the province code")
    year_text = cells["year"]
    if year_text and not _YEAR.match(year_text):
        raise ParameterTableError(f"{where}: year must be 4 digits or blank, got {year_text!r}")
    profile = cells["profile"] or None
    if profile is not None and profile not in PROFILES:
        raise ParameterTableError(f"{where}: unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    name = cells["name"]
    spec = SPECS.get(name)
    if spec is None:
        raise ParameterTableError(f"{where}: unknown parameter name {name!r}")
    if not cells["version"]:
        raise ParameterTableError(f"{where}: every row needs a version")
    tag = cells["tag"].strip("[]")
    if tag not in TAGS:
        raise ParameterTableError(f"{where}: tag must be V, G or P, got {cells['tag']!r}")
    level: Level = "county" if county else "province" if province else "national"
    source = ParameterSource(
        name=name,
        value=cells["value"],
        level=level,
        province=province,
        county=county,
        year=int(year_text) if year_text else None,
        profile=profile,
        version=cells["version"],
        tag=tag,
        file=file,
        line=line,
    )
    return _Row(source, _convert(spec, cells["value"], where, name))


def _convert(spec: _Spec, text: str, where: str, name: str) -> Decimal | int | bool | str:
    if spec.kind == "choice":
        if text not in spec.choices:
            raise ParameterTableError(
                f"{where}: {name} must be one of {', '.join(spec.choices)}, got {text!r}"
            )
        return text
    if spec.kind == "bool":
        if text not in ("0", "1"):
            raise ParameterTableError(f"{where}: {name} must be 0 or 1, got {text!r}")
        return text == "1"
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ParameterTableError(f"{where}: {name} must be a number, got {text!r}") from None
    if not number.is_finite():
        raise ParameterTableError(f"{where}: {name} must be a finite number, got {text!r}")
    if spec.kind == "int":
        if number != number.to_integral_value():
            raise ParameterTableError(f"{where}: {name} must be a whole number, got {text!r}")
        return int(number)
    return number


def _reject_duplicates(rows: Iterable[_Row]) -> None:
    seen: dict[tuple[object, ...], ParameterSource] = {}
    for row in rows:
        src = row.source
        key = (src.province, src.county, src.year, src.profile, src.name)
        if key in seen:
            first = seen[key]
            raise ParameterTableError(
                f"{src.file} line {src.line}: duplicate of {first.file} line {first.line} "
                f"({src.name} for {src.scope}, year {src.year or 'any'}, profile {src.profile or 'any'})"
            )
        seen[key] = src


_cache: dict[Path, tuple[tuple[tuple[str, int, int], ...], ParameterTable]] = {}


def read_table(directory: Path | None = None, overlay: Path | None = None) -> ParameterTable:
    """Return the validated table of `directory` (default: the shipped files), with the rows of `overlay`
    (a folder holding a county's uploaded table, docs/ledger.md) in place of the rows they share a key with.

    Each table is cached and re-read when any file's size or modification time changes, so an edited
    CSV takes effect without a restart.
    """
    base = _read_cached(Path(directory or PARAMETER_DIR).resolve())
    if overlay is None or not any(Path(overlay).glob("*.csv")):
        return base
    return base.overlaid(_read_cached(Path(overlay).resolve()))


def _read_cached(directory: Path) -> ParameterTable:
    stamp = tuple(
        (path.name, path.stat().st_mtime_ns, path.stat().st_size) for path in sorted(directory.glob("*.csv"))
    )
    cached = _cache.get(directory)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    table = ParameterTable.from_directory(directory)
    _cache[directory] = (stamp, table)
    return table


def row_key(src: ParameterSource) -> tuple:
    """What makes two rows the same parameter: scope, year, profile and name."""
    return (src.province, src.county, src.year, src.profile, src.name)


def check_text(text: str, file_name: str) -> list[str]:
    """Every problem of an uploaded table, row by row (a file that reads is not yet one that resolves)."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header = tuple(name.strip() for name in reader.fieldnames or ())
    if header != COLUMNS:
        return [f"{file_name}: header must be {','.join(COLUMNS)}, got {','.join(header) or 'nothing'}"]
    problems: list[str] = []
    rows: list[_Row] = []
    for cells in reader:
        line = reader.line_num
        if None in cells:
            problems.append(f"{file_name} line {line}: more cells than the {len(COLUMNS)} columns")
            continue
        values = {key.strip(): (value or "").strip() for key, value in cells.items() if key is not None}
        if not any(values.values()):
            continue
        try:
            rows.append(_parse_row(values, file_name, line))
        except ParameterTableError as exc:
            problems.append(str(exc))
    try:
        _reject_duplicates(rows)
    except ParameterTableError as exc:
        problems.append(str(exc))
    if not rows and not problems:
        problems.append(f"{file_name}: no rows")
    return problems


def load_parameters(
    province: str,
    county: str | None,
    year: int,
    profile: str,
    *,
    directory: Path | None = None,
    overlay: Path | None = None,
) -> RuleParameters:
    """Return the parameters in force for (province, county, year, profile).

    Raises `UnknownParameterKey` for a profile without an implementation, a province with no rows, a
    county code outside the province, or a year the table does not cover; `MissingParameter` when a
    required threshold has no row at any level; `ParameterTableError` for a malformed file.
    """
    return read_table(directory, overlay).resolve(province, county, year, profile)
