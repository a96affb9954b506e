"""A submission's answers laid out by its form's outline: labels in the reader's language, choice labels
instead of codes, groups as sections, repeats as tables, and each photo in the place of its question.

Unanswered questions are left out (most of a form is skipped by relevance); the raw XML stays one click
away for anything this does not show.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from sync.intake.instance_xml import local_name, parse_instance
from sync.review.outline import Node, Outline

_OUTPUT = re.compile(r"\$\{\s*([^}]*?)\s*\}")


@dataclass
class Answer:
    label: str
    value: str  # as a person reads it: choice labels joined, or the text
    raw: str  # the stored value
    path: str
    photo: str | None = None  # the attachment file name, for an image question


@dataclass
class Section:
    label: str
    path: str
    items: list = field(default_factory=list)  # Answer, Section or Table


@dataclass
class Table:
    label: str
    path: str
    columns: list[str]
    rows: list[list[Answer | None]]


# For choices from a list outside the form (the administrative table, the households list): value -> label.
ExternalLabel = Callable[[str, str, str], str | None]  # (list name, value, language) -> label


def lay_out(outline: Outline, xml: bytes, language: str, external: ExternalLabel | None = None) -> list:
    """The answers of the submission ``xml`` in ``outline``'s shape (see module docstring)."""
    root = parse_instance(xml)
    values = {}
    _index(root, "/" + local_name(root.tag), values)
    return _items(outline.nodes, root, "/" + local_name(root.tag), values, language, external)


def _index(element: Element, path: str, values: dict[str, str]) -> None:
    for child in element:
        child_path = f"{path}/{local_name(child.tag)}"
        if len(child):
            _index(child, child_path, values)
        else:
            values.setdefault(child_path, (child.text or "").strip())


def _find(element: Element, relative: list[str]) -> Element | None:
    current = element
    for step in relative:
        current = next((c for c in current if local_name(c.tag) == step), None)
        if current is None:
            return None
    return current


def _items(nodes: list[Node], element: Element, base: str, values: dict, language: str, external) -> list:  # noqa: ANN001
    items: list = []
    for node in nodes:
        relative = _relative(node.path, base)
        if node.kind == "question":
            target = _find(element, relative)
            if target is not None and (target.text or "").strip():
                items.append(_answer(node, (target.text or "").strip(), values, language, external))
        elif node.kind == "group":
            inner = _find(element, relative) if relative else element
            if inner is None:
                continue
            children = _items(node.children, inner, node.path or base, values, language, external)
            if not node.path or not node.labels:
                items.extend(children)  # a field-list page without a heading of its own
            elif children:
                items.append(Section(node.label(language), node.path, children))
        elif node.kind == "repeat":
            table = _table(node, element, base, values, language, external)
            if table.rows:
                items.append(table)
    return items


def _table(node: Node, element: Element, base: str, values: dict, language: str, external) -> Table:  # noqa: ANN001
    relative = _relative(node.path, base)
    parent = _find(element, relative[:-1]) if len(relative) > 1 else element
    instances = [c for c in parent if local_name(c.tag) == relative[-1]] if parent is not None and relative else []
    columns = [child for child in _leaves(node.children)]
    rows = []
    for instance in instances:
        row: list[Answer | None] = []
        for column in columns:
            target = _find(instance, _relative(column.path, node.path))
            text = (target.text or "").strip() if target is not None else ""
            row.append(_answer(column, text, values, language, external) if text else None)
        if any(cell is not None for cell in row):
            rows.append(row)
    return Table(node.label(language), node.path, [c.label(language) for c in columns], rows)


def _leaves(nodes: list[Node]) -> list[Node]:
    found = []
    for node in nodes:
        if node.kind == "question":
            found.append(node)
        elif node.kind == "group":
            found.extend(_leaves(node.children))
    return found


def _relative(path: str, base: str) -> list[str]:
    if not path:
        return []
    if path.startswith(base + "/"):
        return [step for step in path[len(base) + 1 :].split("/") if step]
    return [step for step in path.split("/") if step][1:]


def _answer(node: Node, raw: str, values: dict, language: str, external) -> Answer:  # noqa: ANN001
    label = _OUTPUT.sub(lambda m: values.get(m.group(1), ""), node.label(language))
    value = raw
    if node.control in ("select1", "select"):
        parts = raw.split() if node.control == "select" else [raw]
        shown = []
        for part in parts:
            text = node.choice_label(part, language)
            if text is None and node.choice_source and external is not None:
                text = external(node.choice_source, part, language)
            shown.append(text or part)
        value = "、".join(shown) if language == "zh" else ", ".join(shown)
    photo = raw if node.control == "upload" and node.mediatype.startswith("image") else None
    return Answer(label=label, value=value, raw=raw, path=node.path, photo=photo)
