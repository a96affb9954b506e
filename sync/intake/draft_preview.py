"""A read-only look at a draft before it goes out: its questions, groups and choices with their rules.

The designer checks in the browser what the phone will ask: the outline the review workspace already
draws from an XForm (sync/review/outline.py), and beside each question the rules of its bind in the
model (relevant, constraint and its message, required, calculation, read-only), read from the draft's
XML, the bytes a test phone downloads. Not an engine: nothing is evaluated (docs/forms.md §11).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from sync.db.models import FormDraft
from sync.review.outline import XF, Outline, outline

JR = "http://openrosa.org/javarosa"
_RULES = (("relevant", "relevant"), ("constraint", "constraint"), (f"{{{JR}}}constraintMsg", "constraint_message"),
          ("required", "required"), ("calculate", "calculation"), ("readonly", "read_only"))


@dataclass(frozen=True)
class Preview:
    outline: Outline
    rules: dict[str, dict[str, str]]  # node path -> rule name -> expression


def _as_written(expression: str, root_name: str) -> str:
    """pyxform writes ``${members}`` as `` /data/members ``; show it as the designer wrote it."""
    if not root_name:
        return expression.strip()
    pattern = re.compile(rf"/{re.escape(root_name)}(?:/[\w.-]+)*/([\w.-]+)")
    return " ".join(pattern.sub(lambda match: "${" + match.group(1) + "}", expression).split())


def preview(draft: FormDraft) -> Preview:
    root = etree.fromstring(draft.xml, etree.XMLParser(resolve_entities=False, no_network=True))
    primary = next((child for instance in root.iter(f"{{{XF}}}instance") if instance.get("id") is None
                    for child in instance if isinstance(child.tag, str)), None)
    root_name = etree.QName(primary).localname if primary is not None else ""
    rules: dict[str, dict[str, str]] = {}
    for bind in root.iter(f"{{{XF}}}bind"):
        found = {name: bind.get(attribute) for attribute, name in _RULES if bind.get(attribute)}
        found = {name: _as_written(value, root_name) for name, value in found.items() if value != "false()"}
        if found and bind.get("nodeset"):
            rules[bind.get("nodeset")] = found
    return Preview(outline(draft.xml), rules)
