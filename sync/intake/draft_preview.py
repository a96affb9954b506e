"""A read-only look at a draft before it goes out: its questions, groups and choices with their rules.

The designer checks in the browser what the phone will ask: the outline the review workspace already
draws from an XForm (sync/review/outline.py), and beside each question the rules of its bind in the
model (relevant, constraint and its message, required, calculation, read-only), read from the draft's
XML, the bytes a test phone downloads. Not an engine: nothing is evaluated (docs/forms.md §11).
"""

from __future__ import annotations

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


def preview(draft: FormDraft) -> Preview:
    root = etree.fromstring(draft.xml, etree.XMLParser(resolve_entities=False, no_network=True))
    rules: dict[str, dict[str, str]] = {}
    for bind in root.iter(f"{{{XF}}}bind"):
        found = {name: bind.get(attribute) for attribute, name in _RULES if bind.get(attribute)}
        found = {name: value for name, value in found.items() if value not in ("false()",)}
        if found and bind.get("nodeset"):
            rules[bind.get("nodeset")] = found
    return Preview(outline(draft.xml), rules)
