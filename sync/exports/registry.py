"""The county's cleaned dataset: the registry (not raw submissions) as tables plus a codebook.

Tables: ``households`` (current state, area codes, status, verdicts), ``members``, and the history of every
baseline, appraisal, water survey and income check with the server's re-derived verdict and the rule
profile and parameter version that derived it. Only counted records (not rejected) by default, approved
only with ``approved=true``. The codebook lists every variable with its labels (zh-CN, English), type,
unit, codes and their labels (read from the XLSForms' choice lists) and where it comes from, so the file
explains itself. Every table is read straight from SQL in one snapshot; no XML is parsed.
One module because the tables' columns, the codebook that describes them and the three writers (XLSX, CSV ZIP,
Parquet) read the same column list: split apart, a new column would have to be added in several places.
"""

from __future__ import annotations

import csv
import io
import json
import zlib
from collections.abc import Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from forms.locations import SOURCES_DIR
from sync.db.engine import read_snapshot
from sync.db.models.registry import BaselineRecord, Household, HousingAppraisal, IncomeCheck, Person, WaterSurvey
from sync.errors import BadRequest
from sync.exports.submissions import FORMATS as FILE_TYPES
from sync.exports.submissions import Prepared, audit, flag
from sync.registry.households import counted

if TYPE_CHECKING:  # pyarrow and xlsxwriter are imported by the download that writes them, not at start-up
    import pyarrow as pa

SOURCES = SOURCES_DIR
FORMATS = ("csv-zip", "xlsx", "parquet")
BATCH = 2000
XLSX = FILE_TYPES["xlsx"]


@dataclass(frozen=True)
class Var:
    name: str
    zh: str
    en: str
    type: str  # string, integer, decimal, boolean, date, datetime, codes (space-separated), json
    unit: str = ""
    codes: tuple[str, str] | None = None  # (form, list_name) in forms/sources
    source: str = ""


STATUS_CODES = {"general": ("一般户", "general"), "poor": ("建档立卡户", "registered poor"),
                "exited": ("已脱贫", "exited"), "returned": ("返贫", "returned to poverty")}

HOUSEHOLD_VARS = (
    Var("code", "户编码", "Household code", "string", source="registration: 12-digit village code + sequence"),
    Var("entity_id", "实体编号", "Entity ID", "string", source="households entity on the phones"),
    Var("registered_on", "登记日期", "Registered on", "date", source="registration"),
    Var("county", "县代码", "County code", "string", source="latest baseline"),
    Var("township", "乡镇代码", "Township code", "string", source="latest baseline"),
    Var("village", "村代码", "Village code", "string", source="latest baseline"),
    Var("group_name", "组", "Group", "string", source="latest baseline"),
    Var("head_name", "户主姓名", "Head of household", "string", source="latest baseline"),
    Var("phone", "电话", "Phone", "string", source="latest baseline"),
    Var("latitude", "纬度", "Latitude", "decimal", "degree", source="latest baseline"),
    Var("longitude", "经度", "Longitude", "decimal", "degree", source="latest baseline"),
    Var("household_type", "户属性", "Household type", "string", codes=("hh_baseline", "poverty_attr"),
        source="latest baseline"),
    Var("main_cause", "主要致贫原因", "Main cause", "string", codes=("hh_baseline", "cause"), source="latest baseline"),
    Var("other_causes", "其他致贫原因", "Other causes", "codes", codes=("hh_baseline", "cause"),
        source="latest baseline"),
    Var("status", "户状态", "Status", "string", source="latest baseline (docs/registry.md)"),
    Var("hh_size", "家庭人口", "Household size", "integer", "person", source="latest baseline"),
    Var("food_ok", "吃穿不愁(食)", "Food assured", "boolean", source="latest baseline"),
    Var("clothing_ok", "吃穿不愁(衣)", "Clothing assured", "boolean", source="latest baseline"),
    Var("edu_ok", "义务教育有保障", "Education assured", "boolean", source="latest baseline"),
    Var("med_ok", "基本医疗有保障", "Medical care assured", "boolean", source="latest baseline"),
    Var("housing_ok", "住房安全有保障", "Housing safe", "boolean", source="latest appraisal or baseline basis"),
    Var("house_grade", "房屋等级", "House grade", "string", codes=("house_appraisal", "house_grade"),
        source="latest appraisal with a grade (server rule)"),
    Var("house_grade_date", "鉴定日期", "Appraisal date", "date", source="latest appraisal with a grade"),
    Var("water_verdict", "饮水安全结论", "Water verdict", "string", source="latest water survey (server rule)"),
    Var("water_ok", "饮水安全有保障", "Water safe", "boolean", source="latest water survey"),
    Var("water_date", "饮水调查日期", "Water survey date", "date", source="latest water survey"),
    Var("income_year", "收入年度", "Income year", "integer", "year", source="latest income check"),
    Var("income_pc", "人均纯收入", "Net income per person", "decimal", "yuan/person/year",
        source="latest income check (server rule)"),
    Var("net_total", "家庭纯收入", "Net household income", "decimal", "yuan/year", source="latest income check"),
    Var("monitor_flag", "监测对象", "Under monitoring", "boolean", source="latest income check"),
    Var("monitor_category", "监测类别", "Monitoring category", "string", source="latest income check"),
    Var("monitor_risks", "风险类型", "Risks", "codes", codes=("income_check", "risk"), source="latest income check"),
    Var("entity_version", "记录版本", "Entity version", "integer", source="number of counted records"),
    Var("updated_at", "更新时间", "Updated at", "datetime", "UTC", source="registry"),
)
MEMBER_VARS = (
    Var("household_code", "户编码", "Household code", "string", source="households.code"),
    Var("id_no", "身份证号", "ID number", "string", source="latest counted baseline"),
    Var("id_valid", "身份证号有效", "ID number valid", "boolean", source="GB 11643 check digit"),
    Var("name", "姓名", "Name", "string", source="latest counted baseline"),
    Var("sex", "性别", "Sex", "string", codes=("hh_baseline", "sex"), source="latest counted baseline"),
    Var("birth_date", "出生日期", "Birth date", "date", source="from the ID number"),
    Var("relation", "与户主关系", "Relation to head", "string", codes=("hh_baseline", "relation"),
        source="latest counted baseline"),
    Var("member_status", "成员状态", "Member status", "string", codes=("hh_baseline", "member_status"),
        source="latest counted baseline"),
    Var("member_since", "首次登记", "Member since", "date", source="first baseline naming them"),
    Var("member_until", "离开日期", "Member until", "date", source="registry"),
)
_HISTORY_COMMON = (
    Var("household_code", "户编码", "Household code", "string", source="households.code"),
    Var("instance_id", "提交编号", "Submission instanceID", "string", source="submission"),
    Var("form_version", "表单版本", "Form version", "string", source="submission"),
    Var("survey_date", "调查日期", "Survey date", "date", source="submission"),
    Var("received_at", "接收时间", "Received at", "datetime", "UTC", source="server"),
    Var("status", "规则状态", "Rule status", "string", source="server rule"),
    Var("profile", "规则配置", "Rule profile", "string", source="server rule"),
    Var("parameter_version", "参数版本", "Parameter version", "string", source="server rule"),
    Var("review_state", "审核状态", "Review state", "string", source="review"),
    Var("server_verdict", "服务器结论", "Server verdict", "json", source="server rule, re-derived"),
)
HISTORY = {
    "baselines": (BaselineRecord, (Var("hh_size", "家庭人口", "Household size", "integer", "person",
                                       source="server rule"),)),
    "appraisals": (HousingAppraisal, (
        Var("grade", "房屋等级", "House grade", "string", codes=("house_appraisal", "house_grade"),
            source="server rule"),
        Var("device_grade", "设备等级", "Grade on the device", "string", codes=("house_appraisal", "house_grade"),
            source="device"),
        Var("housing_ok", "住房安全", "Housing safe", "boolean", source="server rule"),
    )),
    "water_surveys": (WaterSurvey, (
        Var("verdict", "饮水结论", "Water verdict", "string", source="server rule"),
        Var("device_verdict_code", "设备结论", "Verdict on the device", "string", source="device"),
        Var("water_ok", "饮水安全", "Water safe", "boolean", source="server rule"),
    )),
    "income_checks": (IncomeCheck, (
        Var("income_year", "收入年度", "Income year", "integer", "year", source="submission"),
        Var("income_pc", "人均纯收入", "Net income per person", "decimal", "yuan/person/year", source="server rule"),
        Var("net_total", "家庭纯收入", "Net household income", "decimal", "yuan/year", source="server rule"),
        Var("below_exit_line", "低于脱贫线", "Below the exit line", "boolean", source="server rule"),
        Var("below_monitor_line", "低于监测线", "Below the monitoring line", "boolean", source="server rule"),
        Var("below_dibao_line", "低于低保线", "Below the dibao line", "boolean", source="server rule"),
    )),
}


@dataclass(frozen=True)
class Options:
    project_id: int
    area: str | None = None
    approved_only: bool = False


def tables() -> dict[str, tuple[Var, ...]]:
    out = {"households": HOUSEHOLD_VARS, "members": MEMBER_VARS}
    for name, (_model, extra) in HISTORY.items():
        out[name] = (*_HISTORY_COMMON, *extra)
    return out


@cache
def choice_labels(form: str, list_name: str) -> dict[str, tuple[str, str]]:
    """code -> (zh label, en label) from an XLSForm's choices sheet."""
    from openpyxl import load_workbook

    with closing(load_workbook(SOURCES / f"{form}.xlsx", read_only=True)) as book:  # closed on errors too
        rows = book["choices"].iter_rows(values_only=True)
        header = [str(h or "") for h in next(rows)]
        zh = next(i for i, h in enumerate(header) if h.startswith("label::") and "zh" in h)
        en = next(i for i, h in enumerate(header) if h.startswith("label::") and "en" in h.lower())
        return {str(r[1]): (str(r[zh] or ""), str(r[en] or "")) for r in rows if r[0] == list_name and r[1] is not None}


def codebook() -> Iterator[list[str]]:
    yield ["table", "variable", "label_zh", "label_en", "type", "unit", "codes", "source"]
    for table, variables in tables().items():
        for var in variables:
            codes = STATUS_CODES if (table, var.name) == ("households", "status") else (
                choice_labels(*var.codes) if var.codes else {})
            text = "; ".join(f"{code}={zh}/{en}" for code, (zh, en) in codes.items())
            yield [table, var.name, var.zh, var.en, var.type, var.unit, text, var.source]


def _statement(table: str, options: Options):  # noqa: ANN202 - a SQLAlchemy Select
    if table == "households":
        columns = [getattr(Household, var.name) for var in HOUSEHOLD_VARS]
        statement = select(*columns).order_by(Household.code)
    elif table == "members":
        columns = [Household.code, *(getattr(Person, var.name) for var in MEMBER_VARS[1:])]
        statement = select(*columns).join(Household, Household.id == Person.household_id).order_by(
            Household.code, Person.id)
    else:
        model, extra = HISTORY[table]
        names = [var.name for var in (*_HISTORY_COMMON[1:], *extra)]
        statement = (
            select(Household.code, *(getattr(model, name) for name in names))
            .join(Household, Household.id == model.household_id)
            .where(counted(model))
            .order_by(Household.code, model.survey_date, model.received_at, model.id)
        )
        if options.approved_only:
            statement = statement.where(model.review_state == "approved")
    statement = statement.where(Household.project_id == options.project_id)
    if options.area is not None:
        statement = statement.where(Household.village.like(f"{options.area}%"))
    return statement


def count_households(connection: Connection, options: Options) -> int:
    from sqlalchemy import func

    statement = select(func.count()).select_from(Household).where(Household.project_id == options.project_id)
    if options.area is not None:
        statement = statement.where(Household.village.like(f"{options.area}%"))
    return connection.scalar(statement) or 0


def _rows(connection: Connection, table: str, options: Options, *, raw: bool = False) -> Iterator[list[Any]]:
    """One table's rows in order; ``raw`` keeps the database's values (Parquet types them itself)."""
    variables = tables()[table]
    result = connection.execution_options(yield_per=BATCH).execute(_statement(table, options))
    try:
        for values in result:
            if raw:
                yield list(values)
            else:
                yield [_cell(var, value) for var, value in zip(variables, values, strict=True)]
    finally:
        result.close()


def _cell(var: Var, value: Any) -> Any:
    if value is None:
        return None
    if var.type == "codes":
        return " ".join(str(v) for v in value)
    if var.type == "json":
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if var.type == "datetime" and isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    if var.type == "decimal":
        return float(value)
    return value


def prepare(
    session: Session,
    engine: Engine,
    project_id: int,
    kind: str,
    params: Mapping[str, str],
    *,
    area: str | None,
    user_id: int | None,
) -> Prepared:
    """Check the options, count the households, audit, and return the streamed file (as submission exports)."""
    if kind not in FORMATS:
        raise BadRequest(f"Unknown registry export format {kind!r}; expected one of {', '.join(FORMATS)}.")
    if area is not None and not area.isdigit():
        raise BadRequest("An area is an administrative code: digits only (county, township or village).")
    options = Options(project_id=project_id, area=area, approved_only=flag(params, "approved", False))
    with read_snapshot(engine) as connection:
        rows = count_households(connection, options)
    audit(session, f"export.registry.{kind}", "registry", params, rows, area=area, user_id=user_id)
    if kind == "xlsx":
        return Prepared("registry.xlsx", XLSX, rows, lambda eng, _store: workbook(eng, options))
    if kind == "parquet":
        return Prepared("registry.parquet.zip", "application/zip", rows, lambda eng, _store: parquet_zip(eng, options))
    return Prepared("registry.zip", "application/zip", rows, lambda eng, _store: csv_zip(eng, options))


def csv_zip(engine: Engine, options: Options) -> Iterator[bytes]:
    """``registry.zip``: one CSV per table and ``codebook.csv``, UTF-8 with a BOM so Excel reads Chinese."""
    from stream_zip import ZIP_64, stream_zip

    now = datetime.now(UTC)

    def member(rows: Iterator[list[Any]]) -> Iterator[bytes]:
        buffer = io.StringIO()
        buffer.write("\ufeff")
        writer = csv.writer(buffer, lineterminator="\n")
        for row in rows:
            writer.writerow(["" if v is None else (int(v) if isinstance(v, bool) else v) for v in row])
            if buffer.tell() > 256 * 1024:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")

    with read_snapshot(engine) as connection:
        def members() -> Iterator[tuple]:
            for table, variables in tables().items():
                header = iter([[var.name for var in variables]])
                rows = _chain(header, _rows(connection, table, options))
                yield f"{table}.csv", now, 0o600, ZIP_64, member(rows)
            yield "codebook.csv", now, 0o600, ZIP_64, member(codebook())

        yield from stream_zip(members(), get_compressobj=lambda: zlib.compressobj(wbits=-zlib.MAX_WBITS, level=1))


def _chain(*parts: Iterator[list[Any]]) -> Iterator[list[Any]]:
    for part in parts:
        yield from part


def workbook(engine: Engine, options: Options) -> Iterator[bytes]:
    """``registry.xlsx``: a sheet per table (names, then zh-CN and English label rows) and ``codebook``."""
    from sync.exports.xlsx import Book

    book = Book()
    try:
        with read_snapshot(engine) as connection:
            for table, variables in tables().items():
                sheet = book.table(table, [[var.name for var in variables], [var.zh for var in variables],
                                           [var.en for var in variables]])
                for row in _rows(connection, table, options):
                    sheet.append(row)
        sheet = book.table("codebook", [])
        for row in codebook():
            sheet.append(row)
        yield from book.chunks()
    finally:
        book.handle.close()


def _arrow_types() -> dict[str, pa.DataType]:
    import pyarrow as pa

    return {
        "integer": pa.int64(),
        "decimal": pa.float64(),
        "boolean": pa.bool_(),
        "date": pa.date32(),
        "datetime": pa.timestamp("us", tz="UTC"),
        "codes": pa.list_(pa.string()),
    }


def parquet_zip(engine: Engine, options: Options) -> Iterator[bytes]:
    """``registry.parquet.zip``: one typed Parquet file per table and ``codebook.parquet``; each file is
    written in row groups as it is read (`sync.exports.parquet.write_rows`), so memory stays flat."""
    import pyarrow as pa
    from stream_zip import ZIP_64, stream_zip

    from sync.exports.parquet import write_rows

    now = datetime.now(UTC)
    types = _arrow_types()
    with read_snapshot(engine) as connection:

        def members() -> Iterator[tuple]:
            for table, variables in tables().items():
                schema = pa.schema([pa.field(var.name, types.get(var.type, pa.string())) for var in variables])
                rows = (_arrow_row(variables, row) for row in _rows(connection, table, options, raw=True))
                yield f"{table}.parquet", now, 0o600, ZIP_64, write_rows(schema, rows)
            book = codebook()
            schema = pa.schema([pa.field(name, pa.string()) for name in next(book)])
            yield "codebook.parquet", now, 0o600, ZIP_64, write_rows(schema, book)

        yield from stream_zip(members(), get_compressobj=lambda: zlib.compressobj(wbits=-zlib.MAX_WBITS, level=1))


def _arrow_row(variables: tuple[Var, ...], row: list[Any]) -> list[Any]:
    out = []
    for var, value in zip(variables, row, strict=True):
        if value is None:
            out.append(None)
        elif var.type == "codes":
            out.append([str(v) for v in value])
        elif var.type == "datetime":
            out.append(value if value.tzinfo else value.replace(tzinfo=UTC))
        elif var.type == "decimal":
            out.append(float(value))
        elif var.type == "json":
            out.append(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))
        else:
            out.append(value)
    return out

