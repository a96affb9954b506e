"""Validation issues that every rule module reports in the same shape.

A verdict never raises on bad input: it returns the problems as `Issue` values, and the caller
(`sync.normalize`) decides what to store. Severity follows docs/domain.md §5.6: an `error` rejects the
submission's verdict, a `warning` is accepted but shown to the reviewer, an `info` only goes to the
audit / data-quality view.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Issue:
    """One finding about a submission: a stable `code`, its severity, a message and the field concerned."""

    code: str
    severity: Severity
    message: str
    field: str | None = None


def error(code: str, message: str, field: str | None = None) -> Issue:
    """Return an issue that rejects the verdict."""
    return Issue(code, "error", message, field)


def warning(code: str, message: str, field: str | None = None) -> Issue:
    """Return an issue that is accepted but shown for review."""
    return Issue(code, "warning", message, field)


def info(code: str, message: str, field: str | None = None) -> Issue:
    """Return an issue for the audit or data-quality view only."""
    return Issue(code, "info", message, field)


def has_errors(issues: Iterable[Issue]) -> bool:
    """True when any issue has severity `error`."""
    return any(issue.severity == "error" for issue in issues)


def merge_issues(*groups: Iterable[Issue]) -> tuple[Issue, ...]:
    """Concatenate issue lists, dropping exact duplicates and any `missing` issue for a field already
    reported as `invalid_value` (an unreadable answer is not also reported as an absent one)."""
    merged: list[Issue] = []
    for group in groups:
        for issue in group:
            if issue not in merged:
                merged.append(issue)
    invalid_fields = {issue.field for issue in merged if issue.code == "invalid_value"}
    return tuple(issue for issue in merged if not (issue.code == "missing" and issue.field in invalid_fields))
