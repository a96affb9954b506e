"""``ledger.xlsx``: the ledger as county offices report it upward, streamed with the exports' writer.

Two sheets, each with a row of column names, a zh-CN and an English label row: ``villages`` (one row per
village: households, open items by kind, items by kind and state, assigned, overdue, closed this month)
and ``items`` (one row per item: household, kind, found on and by which record, measure, unit, person,
deadline, state, closed on and by which record). The workbook is openpyxl's write-only one, as every
export here (sync/exports/registry.py), read in one snapshot; the export is counted and audited before the
first byte (sync/exports/submissions.py: ``Prepared``, ``audit``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import date

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sync.db.engine import read_snapshot
from sync.db.models import LedgerItem, LedgerMeasure
from sync.exports.registry import XLSX
from sync.exports.submissions import Prepared, audit
from sync.ledger.derive import STATES
from sync.ledger.kinds import KINDS
from sync.ledger.queries import area_counts, check_area, iter_items, scope_of

KIND_LABELS = {
    "housing": ("住房安全", "housing"),
    "water": ("饮水安全", "drinking water"),
    "income": ("收入", "income"),
    "monitoring": ("防返贫监测", "monitoring"),
    "identity": ("身份信息", "identity"),
}
STATE_LABELS = {
    "open": ("待处置", "open"),
    "assigned": ("已落实措施", "measure assigned"),
    "done": ("已完成待核验", "work reported done"),
    "closed": ("已销号", "closed"),
    "void": ("已撤销", "void"),
}
ITEM_COLUMNS = (
    ("item_id", "台账编号", "Item"),
    ("village", "村代码", "Village code"),
    ("household_code", "户编码", "Household code"),
    ("household", "户主", "Household"),
    ("kind", "问题类型", "Kind"),
    ("found_on", "发现日期", "Found on"),
    ("found_by", "发现记录", "Found by record"),
    ("measure", "措施", "Measure"),
    ("unit", "责任单位", "Responsible unit"),
    ("person", "责任人", "Responsible person"),
    ("deadline", "完成时限", "Deadline"),
    ("state", "状态", "State"),
    ("overdue", "逾期", "Overdue"),
    ("days_open", "挂账天数", "Days open"),
    ("closed_on", "销号日期", "Closed on"),
    ("closed_by", "销号依据", "Closed by record"),
    ("previous_item", "前次台账", "Previous item (relapse)"),
)


def village_columns() -> list[tuple[str, str, str]]:
    columns = [("village", "村代码", "Village code"), ("households", "户数", "Households"),
               ("households_without_record", "无记录户数", "Households without a record")]  # fmt: skip
    columns += [(f"open_{kind}", f"{zh}未销号", f"Open: {en}") for kind, (zh, en) in KIND_LABELS.items()]
    for kind, (kind_zh, kind_en) in KIND_LABELS.items():
        for state, (state_zh, state_en) in STATE_LABELS.items():
            columns.append((f"{kind}_{state}", f"{kind_zh}{state_zh}", f"{kind_en}: {state_en}"))
    columns += [("assigned", "已落实措施", "Assigned"), ("overdue", "逾期", "Overdue"),
                ("closed_this_month", "本月销号", "Closed this month")]  # fmt: skip
    return columns


def prepare_ledger_export(
    session: Session, project_id: int, area: str, *, today: date, user_id: int | None
) -> Prepared:
    """Check the area, count the items, audit, and return the streamed workbook."""
    area = check_area(area)
    rows = session.scalar(select(func.count()).select_from(LedgerItem).where(*scope_of(project_id, area))) or 0
    audit(session, "export.ledger.xlsx", "ledger", {"area": area}, rows, area=area or None, user_id=user_id)
    return Prepared("ledger.xlsx", XLSX, rows, lambda engine, _store: workbook(engine, project_id, area, today))


def workbook(engine: Engine, project_id: int, area: str, today: date) -> Iterator[bytes]:
    from openpyxl import Workbook  # 33 MiB, imported by the first ledger download

    book = Workbook(write_only=True)
    with read_snapshot(engine) as connection, Session(bind=connection) as session:
        measures = {m.code: f"{m.label_zh} / {m.label_en}" for m in session.scalars(select(LedgerMeasure))}
        villages = book.create_sheet("villages")
        columns = village_columns()
        for index in range(3):
            villages.append([column[index] for column in columns])
        for counts in area_counts(session, project_id, area, today=today, by=12)[1:]:
            villages.append(
                [counts.area, counts.households, counts.households_without_record]
                + [counts.open_by_kind[kind] for kind in KINDS]
                + [counts.by_state[kind][state] for kind in KINDS for state in STATES]
                + [counts.assigned, counts.overdue, counts.closed_this_month]
            )
        items = book.create_sheet("items")
        for index in range(3):
            items.append([column[index] for column in ITEM_COLUMNS])
        for row in iter_items(session, project_id, area, today=today):
            item = row.item
            items.append([
                item.id, item.village, row.household_code, row.household_label, KIND_LABELS[item.kind][0],
                item.opened_on, f"{item.found_form} {item.found_instance_id}",
                measures.get(item.measure or "", item.measure),
                item.unit, item.person, item.deadline, STATE_LABELS[item.state][0], "是" if row.overdue else "",
                row.days_open, item.closed_on, _closed_by(item), item.previous_item_id,
            ])  # fmt: skip
    with tempfile.TemporaryFile() as handle:
        book.save(handle)
        handle.seek(0)
        while chunk := handle.read(256 * 1024):
            yield chunk


def _closed_by(item: LedgerItem) -> str | None:
    if item.closed_by_instance_id:
        return f"{item.closed_by_form} {item.closed_by_instance_id}"
    if item.close_approved_on:
        return f"人工销号 manual close: {item.close_reason}"
    return None
