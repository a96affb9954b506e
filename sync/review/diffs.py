"""What an edit changed: the field-by-field difference between two versions of a submission.

Central's ``GET .../submissions/{rootId}/diffs`` gives, for each version, the changes from the one before;
the workspace shows the same list. Values are compared as the answers the rules read (sync/instance_xml),
so a repeat's rows are compared one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sync.db.models import SubmissionVersion
from sync.intake.instance_xml import answers_from_xml, parse_instance


@dataclass(frozen=True)
class Change:
    path: str  # e.g. "g_wall" or "members[2].m_id", as Central names them: /data-less, 1-based repeat index
    old: str | None
    new: str | None


def _flat(answers: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in answers.items():
        key = f"{prefix}{name}"
        if isinstance(value, list):
            for index, row in enumerate(value, start=1):
                flat.update(_flat(row, f"{key}[{index}]."))
        else:
            flat[key] = value
    return flat


def changes(older: bytes, newer: bytes, repeats: frozenset[str] = frozenset()) -> list[Change]:
    before = _flat(answers_from_xml(parse_instance(older), repeats))
    after = _flat(answers_from_xml(parse_instance(newer), repeats))
    found = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if (old or "") != (new or ""):
            found.append(Change(key, old, new))
    return found


def version_diffs(versions: list[SubmissionVersion], repeats: frozenset[str]) -> dict[str, list[Change]]:
    """instanceId of each edit -> its changes from the version before (oldest version first in ``versions``)."""
    ordered = sorted(versions, key=lambda v: v.id)
    return {
        newer.instance_id: changes(older.xml, newer.xml, repeats)
        for older, newer in zip(ordered, ordered[1:], strict=False)
    }
