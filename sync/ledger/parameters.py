"""Parameter tables as data the county edits: upload, check row by row, preview what would change, apply.

An upload is a table in the CSV format of forms/rules/parameters/ (docs/rules.md 7), typically the
county's rows for a new year. It is checked row by row (every problem reported with its line), kept as a
``parameter_versions`` row, and laid over the shipped table when applied: its rows replace the shipped rows
of the same scope, year, profile and name (``forms.rules.parameters.read_table``). Applying writes it to
the data folder's ``parameters/`` (every process reads it from there), marks the previous applied version
superseded (kept, so it can be applied again) and re-judges the registry through ``registry rebuild``
(and the ledger with it); each step is audited.

The preview answers "what would this change" before anything is applied: for every household's latest
computed income check, whether it is under the exit (poverty), monitoring and minimum-living-allowance
lines now and under the candidate table, by the registry's own comparison
(``sync.registry.placement.under_line``) on the stored income per person. Housing and water verdicts read
no yearly line, so a table of lines changes only these.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from forms.rules.parameters import ParameterError, ParameterTable, check_text, read_table
from sync.db.models import Household, IncomeCheck, ParameterVersion, utcnow
from sync.errors import BadRequest, NotFound
from sync.ledger.queries import check_area, in_area
from sync.ledger.rebuild import rebuild_with_ledger
from sync.oversight.audit import record
from sync.registry.households import counted
from sync.registry.overlay import OVERLAY_FILE, write_table
from sync.registry.placement import under_line
from sync.registry.verdicts import DEFAULT_PROFILE, parameter_overlay

MAX_BYTES = 2_000_000
LINES = ("exit", "monitor", "dibao")
LINE_LABELS = {"exit": "exit (poverty) line", "monitor": "monitoring line", "dibao": "minimum living allowance line"}
LISTED = 1000  # household codes named per change; the counts are always complete


def upload(session: Session, file_name: str, content: bytes, user_id: int | None) -> ParameterVersion:
    """Check an uploaded table and keep it (state ``uploaded``); every problem is listed in the error."""
    if len(content) > MAX_BYTES:
        raise BadRequest(f"A parameter table may be at most {MAX_BYTES:,} bytes.")
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("A parameter table is UTF-8 CSV (Excel's 'CSV UTF-8').") from None
    name = Path(file_name or OVERLAY_FILE).name
    problems = check_text(text, name)
    if not problems:
        problems = _resolves(text)
    if problems:
        raise BadRequest(f"The parameter table has {len(problems)} problem(s): " + "; ".join(problems[:50]),
                         problems=problems)  # fmt: skip
    version = ParameterVersion(file_name=name, content=text.removeprefix("\ufeff"), uploaded_by_user_id=user_id)
    session.add(version)
    session.flush()
    record(session, "parameters.upload", subject=f"parameter_version:{version.id}", user_id=user_id,
           details={"file": name, "rows": text.count("\n")})  # fmt: skip
    return version


def _resolves(text: str) -> list[str]:
    """Rows that read can still leave the table unusable: each county and year the upload names must resolve
    (every required parameter found somewhere in the fallback chain), with the shipped table beneath it."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / OVERLAY_FILE).write_text(text, encoding="utf-8")
        try:
            table = read_table(overlay=Path(folder))
            uploaded = read_table(Path(folder))
        except ParameterError as exc:
            return [str(exc)]
    problems = []
    keys = {(row.source.province, row.source.county, row.source.year) for row in uploaded.rows}
    for province, county, year in sorted(keys, key=str):
        if province is None or year is None:
            continue
        try:
            table.resolve(province, county, year, DEFAULT_PROFILE)
        except ParameterError as exc:
            problems.append(str(exc))
    return problems


def list_versions(session: Session) -> list[ParameterVersion]:
    return list(session.scalars(select(ParameterVersion).order_by(ParameterVersion.id.desc())))


def get_version(session: Session, version_id: int) -> ParameterVersion:
    version = session.get(ParameterVersion, version_id)
    if version is None:
        raise NotFound(f"There is no parameter table version {version_id}.")
    return version


@dataclass
class LineChange:
    line: str
    year: int
    county: str
    before: str | None
    after: str | None
    enter: list[str] = field(default_factory=list)  # household codes now under the line
    leave: list[str] = field(default_factory=list)
    enter_count: int = 0
    leave_count: int = 0
    townships: set[str] = field(default_factory=set)

    def sentence(self) -> str:
        figure = f"{Decimal(self.after):,.0f} yuan" if self.after is not None else "no figure"
        return (f"with the {self.year} {LINE_LABELS[self.line]} at {figure} in {self.county}, "
                f"{self.enter_count} households in {len(self.townships)} townships enter, "
                f"{self.leave_count} leave")  # fmt: skip


@dataclass
class Preview:
    version_id: int
    households: int = 0  # households with a computed income check in the area
    changes: list[LineChange] = field(default_factory=list)

    def summary(self) -> list[str]:
        return [change.sentence() for change in self.changes if change.enter_count or change.leave_count]


def preview(session: Session, project_id: int, version: ParameterVersion, area: str = "") -> Preview:
    """What applying ``version`` would change: who moves across each income line (see the module docstring)."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / OVERLAY_FILE).write_text(version.content, encoding="utf-8")
        candidate = read_table(overlay=Path(folder))
    current = read_table(overlay=parameter_overlay())
    area = check_area(area)
    result = Preview(version.id)
    changes: dict[tuple[str, int, str], LineChange] = {}
    lines: dict[tuple[str, int], tuple[dict, dict]] = {}
    for row in session.execute(_latest_incomes(project_id, area)):
        code, township, county, year, income_pc, below = row[0], row[1], row[2], row[3], row[4], row[5:8]
        result.households += 1
        if county is None or year is None or income_pc is None:
            continue
        if (county, year) not in lines:
            lines[(county, year)] = (_lines(current, county, year), _lines(candidate, county, year))
        old, new = lines[(county, year)]
        for index, line in enumerate(LINES):
            was = below[index] if below[index] is not None else under_line(line, income_pc, old[line])
            now = under_line(line, income_pc, new[line])
            if bool(was) == bool(now):
                continue
            change = changes.setdefault(
                (line, year, county),
                LineChange(line, year, county, _text(old[line]), _text(new[line])),
            )
            listed, key = (change.enter, "enter_count") if now else (change.leave, "leave_count")
            setattr(change, key, getattr(change, key) + 1)
            if len(listed) < LISTED:
                listed.append(code)
            change.townships.add(township or "")
    result.changes = sorted(changes.values(), key=lambda c: (c.county, c.year, LINES.index(c.line)))
    return result


def _latest_incomes(project_id: int, area: str):  # noqa: ANN202 - a Select
    ranked = (
        select(
            IncomeCheck.household_id,
            IncomeCheck.income_year,
            IncomeCheck.income_pc,
            IncomeCheck.below_exit_line,
            IncomeCheck.below_monitor_line,
            IncomeCheck.below_dibao_line,
            func.row_number()
            .over(
                partition_by=IncomeCheck.household_id,
                order_by=(IncomeCheck.survey_date.desc(), IncomeCheck.received_at.desc(), IncomeCheck.id.desc()),
            )
            .label("rank"),
        )
        .where(IncomeCheck.project_id == project_id, IncomeCheck.status == "computed", counted(IncomeCheck))
        .subquery()
    )
    query = (
        select(
            Household.code,
            Household.township,
            Household.county,
            ranked.c.income_year,
            ranked.c.income_pc,
            ranked.c.below_exit_line,
            ranked.c.below_monitor_line,
            ranked.c.below_dibao_line,
        )  # fmt: skip
        .join(ranked, ranked.c.household_id == Household.id)
        .where(ranked.c.rank == 1)
        .order_by(Household.code)
    )
    if area:
        query = query.where(*in_area(Household.village, area))
    return query


def _lines(table: ParameterTable, county: str, year: int) -> dict[str, Decimal | None]:
    try:
        params = table.resolve(county[:2], county, year, DEFAULT_PROFILE)
    except ParameterError:
        return dict.fromkeys(LINES)
    return {"exit": params.exit_line, "monitor": params.monitoring_line, "dibao": params.dibao_line}


def _text(line: Decimal | None) -> str | None:
    return None if line is None else str(line)


def apply_version(
    factory: sessionmaker[Session],
    directory: Path,
    version_id: int,
    user_id: int | None,
    *,
    project_id: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> int:
    """Make ``version`` the county's table, then re-judge the registry and the ledger; returns the number of
    submissions normalized again."""
    with factory() as session, session.begin():
        version = get_version(session, version_id)
        for previous in session.scalars(select(ParameterVersion).where(ParameterVersion.state == "applied")):
            previous.state = "superseded"
        version.state, version.applied_by_user_id, version.applied_at = "applied", user_id, utcnow()
        write_table(directory, version.content, version.id)
        record(session, "parameters.apply", subject=f"parameter_version:{version.id}", user_id=user_id,
               details={"file": version.file_name})  # fmt: skip
    report = rebuild_with_ledger(factory, project_id, on_progress=on_progress)
    with factory() as session, session.begin():
        record(session, "registry.rebuild", subject=f"parameter_version:{version_id}", user_id=user_id,
               details={"submissions": report.submissions})  # fmt: skip
    return report.submissions

