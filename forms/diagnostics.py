"""Turn pyxform and ODK Validate messages into sentences that name file, sheet and row.

A form designer works in Excel: "row 12 of sheet 'survey'" is something they can find, an XPath such as
``/data/members/m_id_r`` or a Java stack trace is not. pyxform already knows the row ("[row : 12]") but
not the file; ODK Validate knows neither, only the field, so the field is looked up in the survey sheet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from forms.problems import FormProblem

# pyxform: "[row : 12] On the 'survey' sheet, the 'name' value 'x' is invalid. ..."
_PYXFORM_ROW = re.compile(r"\[row\s*:\s*(\d+)\]\s*")
_PYXFORM_SHEET = re.compile(r"On the '([^']+)' sheet,?\s*", re.IGNORECASE)
# ODK Validate names the field in one of these ways, most specific first.
_VALIDATE_FIELD = (
    re.compile(r"bind attached to \"([^\"]+)\""),
    re.compile(r"Error evaluating field '([^']+)'"),
    re.compile(r"expression for (/[^\s:]+)"),
    re.compile(r"ref=\"?(/[^\s\"\]]+)"),
    re.compile(r"(?<![)\w])(/(?!root/)[A-Za-z_][\w.\-]*(?:/[A-Za-z_][\w.\-]*(?:\[\d+\])?)+)"),
)
_VALIDATE_BIND_ATTRIBUTE = re.compile(
    r"Invalid (calculate|relevant|constraint|required|readonly) for the bind"
)
# XLSForm column that produced each XForm bind attribute.
_COLUMN_OF_ATTRIBUTE = {
    "calculate": "calculation",
    "relevant": "relevant",
    "constraint": "constraint",
    "required": "required",
    "readonly": "read_only",
}
_JAVA_NOISE = (
    re.compile(r"^\s*at [\w$.<>]+\(.*\)\s*$"),
    re.compile(r"^\s*\.\.\. \d+ more\s*$"),
    re.compile(r"^\s*The following files failed validation:.*$"),
    re.compile(r"^\s*Result: Invalid\s*$"),
    re.compile(r"^\s*Validating: .*$"),
    re.compile(r"^\s*>> (XForm is invalid\.|Something broke the parser\.)\s*$"),
    re.compile(r"^\s*Caused by: .*$"),
)
# "java.lang.RuntimeException: ", "org.javarosa.xpath.XPathUnsupportedException: " ...
_JAVA_PREFIX = re.compile(r"^(?:[a-z]\w*\.)+[A-Z]\w*(?:Exception|Error): ")
# JavaRosa's wording for each bind attribute, mapped to the XLSForm column that produced it.
_CONDITION_COLUMNS = (
    ("display condition", "relevant"),
    ("require condition", "required"),
    ("readonly condition", "read_only"),
    ("invalid constraint expression", "constraint"),
    ("Constraint expression", "constraint"),
    ("Relevant expression", "relevant"),
    ("Calculate expression", "calculation"),
    ("nodeset expression: instance(", "choice_filter"),
)
_ITEMSET_FILTER = re.compile(r"instance\('[^']+'\)/root/item\[(.*)\]\s*\]")
_BAD_NODE = re.compile(r"Bad node: org\.javarosa\.[\w.$]+@[0-9a-f]+")


@dataclass(frozen=True)
class Location:
    """A place in a form source: the sheet and the spreadsheet row (the header is row 1)."""

    sheet: str
    row: int | None = None
    column: str | None = None
    field: str | None = None


class FormBuildError(Exception):
    """A form could not be compiled or was refused by ODK Validate.

    ``str()`` is the whole sentence for the designer, e.g.
    "house_appraisal.xlsx, sheet 'survey', row 12 (field 'grade_calc', column 'calculation'): ...".
    The parts are kept as attributes so callers (CLI, admin screen) can show them separately, and
    ``problems`` lists every place involved (both rows of a duplicate name, every node of a calculation
    loop) as :class:`forms.problems.FormProblem`, the first being the one the sentence names.
    """

    def __init__(
        self,
        source: Path | None,
        message: str,
        location: Location | None = None,
        *,
        also: tuple[FormProblem, ...] = (),
        warnings: tuple[FormProblem, ...] = (),
    ) -> None:
        self.source = source
        self.message = message.strip()
        self.location = location
        first = FormProblem(
            self.message,
            "error",
            location.sheet if location else None,
            location.row if location else None,
            location.column if location else None,
            location.field if location else None,
        )
        self.problems: tuple[FormProblem, ...] = (first, *also, *warnings)
        super().__init__(self._sentence())

    @property
    def sheet(self) -> str | None:
        return self.location.sheet if self.location else None

    @property
    def row(self) -> int | None:
        return self.location.row if self.location else None

    @property
    def field(self) -> str | None:
        return self.location.field if self.location else None

    def _sentence(self) -> str:
        if self.source is None and self.location is None:
            return self.message
        parts = [self.source.name if self.source else "form"]
        if self.location is not None:
            parts.append(f"sheet '{self.location.sheet}'")
            if self.location.row is not None:
                parts.append(f"row {self.location.row}")
        where = ", ".join(parts)
        details = []
        if self.location is not None and self.location.field:
            details.append(f"field '{self.location.field}'")
        if self.location is not None and self.location.column:
            details.append(f"column '{self.location.column}'")
        if details:
            where += f" ({', '.join(details)})"
        return f"{where}: {self.message}"


def pyxform_location(message: str, context: dict | None = None) -> tuple[Location | None, str]:
    """Split a pyxform message into its location and the rest of the sentence.

    pyxform 4 attaches ``context`` (row, sheet, column) to coded errors; older messages only carry the
    "[row : N]" prefix, and those without a sheet name all come from the survey sheet.
    """
    context = context or {}
    row = context.get("row")
    sheet = context.get("sheet")
    column = context.get("column")
    text = message
    row_match = _PYXFORM_ROW.search(text)
    if row_match:
        row = row if row is not None else int(row_match.group(1))
        text = _PYXFORM_ROW.sub("", text, count=1)
    sheet_match = _PYXFORM_SHEET.search(text)
    if sheet_match:
        sheet = sheet or sheet_match.group(1)
        text = _PYXFORM_SHEET.sub("", text, count=1)
        text = text[:1].upper() + text[1:]
    if row is None and sheet is None:
        return None, message
    return Location(sheet=sheet or "survey", row=int(row) if row is not None else None, column=column), text


def clean_validate_output(stderr: str) -> str:
    """Drop the Java stack trace and class names from ODK Validate's output, keep what a person reads."""
    lines = []
    for raw in stderr.splitlines():
        if not raw.strip() or any(pattern.match(raw) for pattern in _JAVA_NOISE):
            continue
        line = raw.strip()
        while _JAVA_PREFIX.match(line):
            line = _JAVA_PREFIX.sub("", line, count=1)
        line = _BAD_NODE.sub("the expression cannot be parsed", line)
        if line not in lines:
            lines.append(line)
    return "\n".join(lines) or stderr.strip()


def validate_field(stderr: str) -> tuple[str | None, str | None]:
    """Return (field name, XLSForm column) that an ODK Validate message is about, when it names one."""
    field = None
    for pattern in _VALIDATE_FIELD:
        match = pattern.search(stderr)
        if match:
            path = match.group(1)
            field = re.sub(r"\[\d+\]", "", path.rstrip("/").split("/")[-1]) or None
            break
    attribute = _VALIDATE_BIND_ATTRIBUTE.search(stderr)
    column = _COLUMN_OF_ATTRIBUTE[attribute.group(1)] if attribute else None
    if column is None:
        column = next((col for words, col in _CONDITION_COLUMNS if words in stderr), None)
    return field, column


def itemset_filter(stderr: str) -> str | None:
    """The predicate of a choice list JavaRosa could not read, e.g. ``parent= = /data/county``."""
    match = _ITEMSET_FILTER.search(stderr)
    return match.group(1) if match else None


def readable_paths(message: str, root: str | None) -> str:
    """Write XForm paths the way designers write references: ``/data/members/m_id`` becomes ``${m_id}``."""
    if not root:
        return message
    pattern = re.compile(rf"/{re.escape(root)}(?:/[A-Za-z_][\w.\-]*(?:\[\d+\])?)+")
    return pattern.sub(lambda m: "${" + re.sub(r"\[\d+\]", "", m.group(0).split("/")[-1]) + "}", message)


def survey_sheet(source: Path) -> list[tuple[int, dict[str, str]]]:
    """The survey sheet's rows with their spreadsheet row numbers.

    The numbering is pyxform's (header = row 1, blank rows counted in workbooks), so a row found here
    and a row in a pyxform message point at the same line.
    """
    from pyxform.xls2json_backends import get_xlsform

    try:
        definition = get_xlsform(xlsform=str(source))
    except Exception:  # noqa: BLE001 - a source we cannot reread only loses the row number
        return []
    return list(enumerate(definition.survey or [], start=2))


def survey_rows(source: Path) -> dict[str, int]:
    """Map each name on the survey sheet to its spreadsheet row (first occurrence wins)."""
    rows: dict[str, int] = {}
    for index, row in survey_sheet(source):
        name = row.get("name")
        if name and name not in rows:
            rows[name] = index
    return rows


_DUPLICATE_NAME = re.compile(
    r"the 'name' value '[^']*' is invalid\. Questions, groups, and repeats must be unique", re.IGNORECASE
)
_OPENS = ("begin group", "begin_group", "begin repeat", "begin_repeat", "begin loop", "begin_loop")
_CLOSES = ("end group", "end_group", "end repeat", "end_repeat", "end loop", "end_loop")


def name_first_used(source: Path, message: str, row: int | None) -> str:
    """Add to pyxform's duplicate-name message the row where the name was first used.

    pyxform names only the second row; the designer has to find the first among hundreds. Names must
    be unique within their group or repeat, so the earlier row is searched in the same group.
    """
    first = first_use(source, message, row)
    return message if first is None else f"{message.rstrip()} It is first used in row {first}."


def first_use(source: Path, message: str, row: int | None) -> int | None:
    """The earlier row of a name pyxform refused as a duplicate in ``row`` (None: not a duplicate)."""
    if row is None or not _DUPLICATE_NAME.search(message):
        return None
    groups: list[int] = []  # rows of the groups and repeats open at each row
    seen: dict[tuple[tuple[int, ...], str], int] = {}
    for index, cells in survey_sheet(source):
        kind = " ".join((cells.get("type") or "").split()).lower()
        name = (cells.get("name") or "").strip()
        if kind in _CLOSES:
            if groups:
                groups.pop()
            continue
        key = (tuple(groups), name)
        if index == row:
            return seen.get(key)
        if name:
            seen.setdefault(key, index)
        if kind in _OPENS:
            groups.append(index)
    return None


def duplicate_name(message: str) -> str | None:
    """The name of pyxform's duplicate-name message, or None for any other message."""
    match = re.search(r"the 'name' value '([^']*)' is invalid\. Questions, groups, and repeats", message, re.I)
    return match.group(1) if match else None


def warning_problem(text: str, rows: dict[str, int]) -> FormProblem:
    """A pyxform or ODK Validate warning on its row: pyxform's "[row : N]", else the question it names."""
    location, message = pyxform_location(text)
    message = " ".join(message.split())
    if location is not None:
        return FormProblem(message, "warning", location.sheet, location.row, location.column)
    named = re.search(r"(?:element|question|field) named '([^']+)'", message) or re.search(r"\$\{(\w+)\}", message)
    if named and named.group(1) in rows:
        return FormProblem(message, "warning", "survey", rows[named.group(1)], None, named.group(1))
    return FormProblem(message, "warning")


def row_with_filter(source: Path, predicate: str, root: str | None) -> tuple[int, str] | None:
    """Find the survey row whose ``choice_filter`` compiled to ``predicate``: (row, field name).

    JavaRosa reports a broken choice list by its XPath only; comparing without spaces and with
    ``${name}`` references restored finds the row the designer wrote.
    """

    def squash(text: str) -> str:
        return re.sub(r"\s+", "", text)

    wanted = squash(readable_paths(predicate, root))
    for index, row in survey_sheet(source):
        written = row.get("choice_filter")
        if written and squash(written) == wanted:
            return index, row.get("name", "")
    return None
