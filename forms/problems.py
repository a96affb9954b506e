"""One shape for everything wrong with a form: a problem on its sheet, row and column.

pyxform, ODK Validate (JavaRosa) and Qingling's own checks each word their findings differently; a form
designer needs the same three things from all of them: where (sheet, row, column, question) and what.
The CLI prints these as sentences, the API sends them as a list in the JSON problem's ``details``
(docs/forms.md §8), so both say the same thing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Kind = Literal["error", "warning"]


@dataclass(frozen=True)
class FormProblem:
    """One error or warning; ``row`` is the spreadsheet row (the header is row 1), None when unknown."""

    message: str
    kind: Kind = "error"
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    question: str | None = None

    def as_dict(self) -> dict[str, object]:
        """The JSON shape: ``{sheet, row, column, question, message, kind}``."""
        data = asdict(self)
        return {key: data[key] for key in ("sheet", "row", "column", "question", "message", "kind")}

    def where(self) -> str:
        """"sheet 'survey', row 12 (field 'x', column 'calculation')", or '' when the place is unknown."""
        parts = []
        if self.sheet:
            parts.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            parts.append(f"row {self.row}")
        where = ", ".join(parts)
        details = []
        if self.question:
            details.append(f"field '{self.question}'")
        if self.column:
            details.append(f"column '{self.column}'")
        if details:
            where += f" ({', '.join(details)})" if where else ", ".join(details)
        return where

    def sentence(self, source_name: str | None = None) -> str:
        """The whole line for the designer, as the CLI prints it."""
        head = ", ".join(part for part in (source_name or "", self.where()) if part)
        return f"{head}: {self.message}" if head else self.message
