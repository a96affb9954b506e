"""The column plan of a form: its fields as ODK Central's exports see them, read from the XForm itself.

Central derives every export (CSV, OData, ``$metadata``) from one schema of the form: the primary
instance in depth-first order, each leaf typed by its ``<bind type>``, groups as structures, repeats
(``<repeat nodeset>`` in the body) as tables of their own, select-multiples recognised by their ``<select>``
control (docs/exports.md 1). This module builds that schema once per form version, so every writer
shares the same order, names and types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree

XF = "http://www.w3.org/2002/xforms"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)


@dataclass
class Field:
    """One node of the primary instance: a leaf (``kind`` is its bind type), a group or a repeat."""

    name: str
    path: tuple[str, ...]  # from the instance root, without it: ("grp", "rep", "leaf")
    kind: str  # "structure", "repeat", or a bind type: string, int, decimal, date, dateTime, geopoint, ...
    select_multiple: bool = False
    choices: tuple[str, ...] = ()  # declared choice values of a select (in form order)
    labels: dict[str, str] = field(default_factory=dict)  # language -> question label
    choice_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # value -> language -> label
    children: list[Field] = field(default_factory=list)

    @property
    def is_leaf(self) -> bool:
        return self.kind not in ("structure", "repeat")

    def child(self, name: str) -> Field | None:
        for child in self.children:
            if child.name == name:
                return child
        return None


@dataclass
class Table:
    """The root table or one repeat: its fields (groups flattened, nested repeats excluded) and its path."""

    name: str  # "" for the root, else the repeat's name
    path: tuple[str, ...]  # the repeat's path from the instance root; () for the root
    node: Field
    parent: Table | None = None

    def leaves(self) -> list[Field]:
        """The table's leaf fields in depth-first order, through groups but not into nested repeats."""
        return list(_leaves(self.node.children))


@dataclass
class FormSchema:
    root: Field
    root_name: str  # the instance's root element name (usually "data")

    def tables(self) -> list[Table]:
        """The root table, then every repeat in depth-first order (Central's order of repeat files)."""
        root = Table("", (), self.root)
        found = [root]
        _collect_tables(self.root.children, root, found)
        return found

    def table(self, path: Sequence[str]) -> Table | None:
        for table in self.tables():
            if table.path == tuple(path):
                return table
        return None

    def find(self, path: Sequence[str]) -> Field | None:
        node: Field | None = self.root
        for step in path:
            node = node.child(step) if node is not None else None
        return node

    def leaf_by_name(self, name: str) -> Field | None:
        """A leaf anywhere in the form by its bare name (field names are unique in a form, docs/forms.md 2)."""
        for leaf in _all_leaves(self.root.children):
            if leaf.name == name:
                return leaf
        return None


def _leaves(fields: Iterable[Field]) -> Iterable[Field]:
    for item in fields:
        if item.kind == "structure":
            yield from _leaves(item.children)
        elif item.kind != "repeat":
            yield item


def _all_leaves(fields: Iterable[Field]) -> Iterable[Field]:
    for item in fields:
        if item.is_leaf:
            yield item
        else:
            yield from _all_leaves(item.children)


def _collect_tables(fields: Iterable[Field], parent: Table, found: list[Table]) -> None:
    for item in fields:
        if item.kind == "repeat":
            table = Table(item.name, item.path, item, parent)
            found.append(table)
            _collect_tables(item.children, table, found)
        elif item.kind == "structure":
            _collect_tables(item.children, parent, found)


@lru_cache(maxsize=64)
def form_schema(xform: bytes) -> FormSchema:
    """The schema of one XForm (cached by its bytes: a form version never changes)."""
    html = etree.fromstring(xform, _PARSER)
    model = html.find(f".//{{{XF}}}model")
    if model is None:
        raise ValueError("The XForm has no model.")
    instance = model.find(f"{{{XF}}}instance")
    root_element = next(iter(instance.iterchildren(etree.Element)))
    root_name = etree.QName(root_element).localname
    binds = {
        _strip_root(bind.get("nodeset", "")): bind.get("type", "string")
        for bind in model.iter(f"{{{XF}}}bind")
        if bind.get("nodeset")
    }
    repeats: set[tuple[str, ...]] = set()
    selects: dict[tuple[str, ...], etree._Element] = {}
    body_labels: dict[tuple[str, ...], etree._Element] = {}
    for element in html.iter(etree.Element):
        local = etree.QName(element).localname
        if local == "repeat" and element.get("nodeset"):
            repeats.add(_strip_root(element.get("nodeset")))
        ref = element.get("ref")
        if ref and local in ("select", "select1"):
            selects[_strip_root(ref)] = element
        if ref:
            body_labels.setdefault(_strip_root(ref), element)
    translations = _translations(model)
    root = Field(name=root_name, path=(), kind="structure")
    _walk(root_element, (), root, binds, repeats, selects, body_labels, translations, model)
    return FormSchema(root=root, root_name=root_name)


def _strip_root(nodeset: str) -> tuple[str, ...]:
    steps = [step.split(":")[-1] for step in nodeset.split("/") if step]
    return tuple(steps[1:])


def _walk(
    element: etree._Element,
    path: tuple[str, ...],
    node: Field,
    binds: dict[tuple[str, ...], str],
    repeats: set[tuple[str, ...]],
    selects: dict[tuple[str, ...], etree._Element],
    body: dict[tuple[str, ...], etree._Element],
    translations: dict[str, dict[str, str]],
    model: etree._Element,
) -> None:
    seen: set[str] = set()
    for child in element.iterchildren(etree.Element):
        name = etree.QName(child).localname
        if name in seen:  # a jr:template and its first copy
            continue
        seen.add(name)
        child_path = (*path, name)
        if child_path in repeats:
            kind = "repeat"
        elif len(child) > 0:
            kind = "structure"
        else:
            kind = binds.get(child_path, "string").split(":")[-1]
        item = Field(name=name, path=child_path, kind=kind)
        control = body.get(child_path)
        if control is not None:
            item.labels = _labels(control, translations)
        select = selects.get(child_path)
        if select is not None:
            item.select_multiple = etree.QName(select).localname == "select"
            item.choices, item.choice_labels = _choices(select, translations, model)
        if not item.is_leaf:
            _walk(child, child_path, item, binds, repeats, selects, body, translations, model)
        node.children.append(item)


def _translations(model: etree._Element) -> dict[str, dict[str, str]]:
    """itext id -> language -> text (the default form of each text)."""
    result: dict[str, dict[str, str]] = {}
    itext = model.find(f"{{{XF}}}itext")
    if itext is None:
        return result
    for translation in itext.iterchildren(f"{{{XF}}}translation"):
        language = translation.get("lang", "default")
        for text in translation.iterchildren(f"{{{XF}}}text"):
            value = text.find(f"{{{XF}}}value")
            if value is not None:
                result.setdefault(text.get("id", ""), {})[language] = "".join(value.itertext()).strip()
    return result


def _labels(element: etree._Element, translations: dict[str, dict[str, str]]) -> dict[str, str]:
    label = element.find(f"{{{XF}}}label")
    if label is None:
        return {}
    ref = label.get("ref", "")
    if ref.startswith("jr:itext("):
        key = ref[len("jr:itext(") :].strip("()'\" ")
        return dict(translations.get(key, {}))
    text = "".join(label.itertext()).strip()
    return {"default": text} if text else {}


def _choices(
    select: etree._Element, translations: dict[str, dict[str, str]], model: etree._Element
) -> tuple[tuple[str, ...], dict[str, dict[str, str]]]:
    values: list[str] = []
    labels: dict[str, dict[str, str]] = {}
    for item in select.iterchildren(f"{{{XF}}}item"):
        value = item.findtext(f"{{{XF}}}value", default="").strip()
        values.append(value)
        labels[value] = _labels(item, translations)
    itemset = select.find(f"{{{XF}}}itemset")
    if itemset is not None:
        nodeset = itemset.get("nodeset", "")
        if nodeset.startswith("instance("):
            instance_id = nodeset.split("'")[1] if "'" in nodeset else nodeset.split('"')[1]
            for instance in model.iterchildren(f"{{{XF}}}instance"):
                if instance.get("id") == instance_id:
                    for row in instance.iter(f"{{{XF}}}item"):
                        value = (row.findtext(f"{{{XF}}}name") or "").strip()
                        if not value:
                            continue
                        values.append(value)
                        itext_id = row.findtext(f"{{{XF}}}itextId")
                        if itext_id:
                            labels[value] = dict(translations.get(itext_id.strip(), {}))
                        else:
                            labels[value] = {"default": (row.findtext(f"{{{XF}}}label") or "").strip()}
    return tuple(values), labels


def merged_schema(xforms: Sequence[bytes]) -> FormSchema:
    """The current version's schema with the fields only earlier versions had (``deletedFields=true``).

    ``xforms`` is newest first. A field that an earlier version had and the current one lacks is placed
    after its preceding sibling in that earlier version, as Central places removed fields back into the
    tree they came from.
    """
    current = form_schema(xforms[0])
    merged = FormSchema(root=_copy(current.root), root_name=current.root_name)
    for older in xforms[1:]:
        _merge(merged.root, form_schema(older).root)
    return merged


def _copy(node: Field) -> Field:
    return Field(
        name=node.name,
        path=node.path,
        kind=node.kind,
        select_multiple=node.select_multiple,
        choices=node.choices,
        labels=node.labels,
        choice_labels=node.choice_labels,
        children=[_copy(child) for child in node.children],
    )


def _merge(into: Field, older: Field) -> None:
    previous: str | None = None
    for child in older.children:
        existing = into.child(child.name)
        if existing is None:
            position = 0
            if previous is not None:
                names = [c.name for c in into.children]
                position = names.index(previous) + 1
            into.children.insert(position, _copy(child))
        elif not existing.is_leaf and not child.is_leaf:
            _merge(existing, child)
        previous = child.name
