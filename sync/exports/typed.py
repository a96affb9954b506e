"""A table's columns as typed values and labels, for the files analysts open (XLSX, Parquet).

CSV keeps Central's text; XLSX and Parquet carry what the form knows: numbers as numbers, dates as dates,
question and choice labels in the languages the XLSForm declares (``label::中文 (zh)``,
``label::English (en)``). The columns are the CSV columns (`sync.exports.tables.data_columns`), so every
format of one export agrees on names and order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sync.errors import BadRequest
from sync.exports.plan import Field, Table
from sync.exports.tables import Column, Options, data_columns

LABELS = ("zh-CN", "en", "both")
_ALIASES = {"zh-CN": ("zh", "中文", "chinese"), "en": ("en", "english")}


def label_languages(labels: str | None) -> tuple[str, ...]:
    """``?labels=`` as the label rows it asks for (default ``zh-CN``, the county's language)."""
    if labels in (None, ""):
        return ("zh-CN",)
    if labels not in LABELS:
        raise BadRequest(f"labels must be one of {', '.join(LABELS)}.")
    return ("zh-CN", "en") if labels == "both" else (labels,)


def pick(texts: dict[str, str], wanted: str) -> str | None:
    """The text of ``wanted`` (zh-CN or en) among a form's languages (``中文 (zh)``, ``English (en)``,
    ``zh-CN``, ``default``), else the default or only one."""
    if not texts:
        return None
    for language, text in texts.items():
        lowered = language.lower()
        code = lowered.rsplit("(", 1)[-1].rstrip(")").strip() if "(" in lowered else lowered
        if code.split("-")[0] in _ALIASES[wanted][:1] or any(alias in lowered for alias in _ALIASES[wanted][1:]):
            return text
    return texts.get("default") or next(iter(texts.values()))


@dataclass(frozen=True)
class TypedColumn:
    header: str
    labels: dict[str, str]  # zh-CN / en -> label
    kind: str  # int, decimal, date, dateTime, geo, flag, select_one, select_multiple, text
    column: Column
    code: bool = False  # the code twin of a labelled select column


def typed_columns(table: Table, options: Options, *, codes: bool) -> list[TypedColumn]:
    out: list[TypedColumn] = []
    for column in data_columns(table, options):
        found = column.field
        labels = {lang: pick(found.labels, lang) or found.name for lang in ("zh-CN", "en")}
        if column.part is not None:
            part = column.header.rsplit("-", 1)[-1]
            out.append(TypedColumn(column.header, {k: f"{v} ({part})" for k, v in labels.items()}, "geo", column))
        elif column.choice is not None:
            choice = {lang: pick(found.choice_labels.get(column.choice, {}), lang) or column.choice for lang in labels}
            out.append(
                TypedColumn(column.header, {k: f"{labels[k]}: {choice[k]}" for k in labels}, "flag", column)
            )
        elif found.choices:
            kind = "select_multiple" if found.select_multiple else "select_one"
            out.append(TypedColumn(column.header, labels, kind, column))
            if codes:
                out.append(TypedColumn(f"{column.header}:code", labels, kind, column, code=True))
        else:
            out.append(TypedColumn(column.header, labels, _kind(found), column))
    return out


def _kind(found: Field) -> str:
    return found.kind if found.kind in ("int", "decimal", "date", "dateTime") else "text"


def convert(column: TypedColumn, text: str | None, language: str | None) -> Any:
    """One cell: None when unanswered; choice labels in ``language`` (None: the codes); typed numbers
    and dates; the text itself when it does not parse, so nothing is lost."""
    if text is None or text == "":
        return None
    kind = column.kind
    source = column.column
    if kind == "geo":
        parts = text.split()
        return _number(parts[source.part], float) if source.part < len(parts) else None
    if kind == "flag":
        return source.choice in text.split()
    if kind == "int":
        return _number(text, int)
    if kind == "decimal":
        return _number(text, float)
    if kind == "date":
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return text
    if kind == "dateTime":
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    if kind in ("select_one", "select_multiple"):
        if column.code or language is None:
            return text
        labels = source.field.choice_labels
        return "; ".join(pick(labels.get(value, {}), language) or value for value in text.split()) if (
            kind == "select_multiple"
        ) else (pick(labels.get(text, {}), language) or text)
    return text


def _number(text: str, cast: type) -> Any:
    try:
        return cast(text)
    except ValueError:
        try:
            return cast(float(text)) if cast is int and float(text).is_integer() else text
        except ValueError:
            return text
