"""Small XLSForms written as a designer writes them (a real .xlsx, through openpyxl), and accounts for the API."""

from __future__ import annotations

import io

import openpyxl

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
VILLAGES_CSV = "name,label\n150102001001,一村\n150102001002,二村\n".encode()

SURVEY = [
    ["type", "name", "label", "relevant", "parameters"],
    ["select_one_from_file villages.csv", "village", "Village", "", ""],
    ["text", "head", "Head of household", "", ""],
    ["integer", "members", "Members", "", ""],
    ["image", "house", "House front", "", "max-pixels=1600"],
]


def workbook(
    form_id: str = "village_check",
    version: str = "2026120201",
    survey: list[list[str]] | None = None,
    *,
    title: str = "Village check",
    choices: list[list[str]] | None = None,
) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "survey"
    for row in survey or SURVEY:
        sheet.append(row)
    if choices:
        extra = book.create_sheet("choices")
        for row in choices:
            extra.append(row)
    settings = book.create_sheet("settings")
    settings.append(["form_id", "version", "title"])
    settings.append([form_id, version, title])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
