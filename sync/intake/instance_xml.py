"""Read the identifiers of a submission's XML without trusting it.

The XML comes from a phone or from anyone on the network: it is parsed with defusedxml, which refuses
DOCTYPEs and entity declarations outright (XXE, "billion laughs"), and only the few facts the server
needs are read, by local name whatever the namespace prefix (docs/protocol.md §7.6).

Size, depth and element count are bounded while parsing, before any tree is whole: a document nested a
million levels deep would otherwise be accepted and then fail every recursive walk of it (the
registry's normalization) on every try, and a few megabytes of ``<a/>`` make a tree of hundreds of
megabytes. A form's submission is far inside every limit (docs/architecture.md, "Limits at the door").
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from sync.errors import HostileXml, InvalidXml, MissingFormId, TooLarge
from sync.numbers import MAX_INTEGER_COLUMN, whole_number

MAX_XML_BYTES = 2_000_000
MAX_XML_DEPTH = 100
MAX_XML_ELEMENTS = 100_000


@dataclass(frozen=True)
class InstanceHeader:
    form_id: str
    version: str
    instance_id: str
    deprecated_id: str | None
    instance_name: str | None


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_instance(xml: bytes) -> Element:
    """The root element, or a typed problem for hostile, malformed, oversized or overly nested XML."""
    if len(xml) > MAX_XML_BYTES:
        raise TooLarge(f"The submission XML is larger than this server accepts ({MAX_XML_BYTES:,} bytes).")
    builder = _BoundedTreeBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        parser.feed(xml)
        return parser.close()
    except DefusedXmlException as exc:
        raise HostileXml() from exc
    except _TooComplex as exc:
        raise InvalidXml(f"The submission XML {exc}; no form produces that.") from None
    # An unknown or multi-byte encoding declaration is a LookupError or ValueError from the decoder.
    except (ParseError, ValueError, LookupError) as exc:
        raise InvalidXml(f"The submission is not well-formed XML ({exc}).") from exc


class _TooComplex(Exception):
    """Raised from inside the parser to stop it at the first element past a limit."""


class _BoundedTreeBuilder(TreeBuilder):
    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._elements = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._depth += 1
        self._elements += 1
        if self._depth > MAX_XML_DEPTH:
            raise _TooComplex(f"is nested more than {MAX_XML_DEPTH} levels deep")
        if self._elements > MAX_XML_ELEMENTS:
            raise _TooComplex(f"has more than {MAX_XML_ELEMENTS:,} elements")
        return super().start(tag, attrs)

    def end(self, tag: str) -> Element:
        self._depth -= 1
        return super().end(tag)


def read_header(root: Element) -> InstanceHeader:
    form_id = root.get("id", "").strip()
    if not form_id:
        raise MissingFormId()
    meta = _child(root, "meta")
    instance_id = _text(meta, "instanceID") if meta is not None else None
    instance_id = instance_id or _text(root, "instanceID")
    return InstanceHeader(
        form_id=form_id,
        version=root.get("version", "").strip(),
        # Central gives an unencrypted submission without instanceID a server-made UUID (docs/protocol.md §7.6).
        instance_id=instance_id or f"uuid:{uuid.uuid4()}",
        deprecated_id=_text(meta, "deprecatedID") if meta is not None else None,
        instance_name=_text(meta, "instanceName") if meta is not None else None,
    )


def values_at(root: Element, path: str) -> Iterator[str]:
    """Texts of every element at an absolute XForm path like ``/data/grp/photo`` (repeats give several)."""
    steps = [s for s in path.split("/") if s][1:]  # drop the root step, whatever the instance calls it
    nodes = [root]
    for step in steps:
        nodes = [child for node in nodes for child in node if local_name(child.tag) == step]
    for node in nodes:
        text = (node.text or "").strip()
        if text:
            yield text


def answers_from_xml(xml: bytes | Element, repeats: Collection[str] = ()) -> dict[str, Any]:
    """The answers of a submission as the verdict rules take them (docs/rules.md 1): field name -> text.

    Leaves are keyed by their local name, with their stripped text ('' when empty); groups are flattened
    into their parent; a repeat becomes a list of mappings, one per instance, built the same way. An
    element with child elements is a repeat instance when its name is in ``repeats`` or when it occurs
    more than once among its siblings; pass the form's repeat names (`repeat_names`) so that a repeat
    with a single instance is not mistaken for a group. ``meta`` is not answers and is left out
    (`read_header` and `read_entity` read it); so are attributes. When two leaves share a name (field
    names are unique within a form, docs/forms.md 2), the later wins. ``xml`` is the submission's bytes
    or its parsed root; hostile or malformed bytes raise the same typed errors as `parse_instance`.
    """
    root = parse_instance(xml) if isinstance(xml, bytes) else xml
    return _answers(root, frozenset(repeats))


def repeat_names(xform: bytes) -> frozenset[str]:
    """Names of the repeat groups an XForm defines (the last step of each ``<repeat nodeset>``)."""
    root = parse_instance(xform)
    return frozenset(
        nodeset.rstrip("/").rsplit("/", 1)[-1]
        for element in root.iter()
        if local_name(element.tag) == "repeat" and (nodeset := element.get("nodeset"))
    )


def _answers(parent: Element, repeats: frozenset[str]) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    names = [local_name(child.tag) for child in parent]
    occurrences = Counter(names)
    for child, name in zip(parent, names, strict=True):
        if name == "meta":
            continue
        if len(child) == 0:
            answers[name] = (child.text or "").strip()
        elif name in repeats or occurrences[name] > 1:
            answers.setdefault(name, []).append(_answers(child, repeats))
        else:
            answers.update(_answers(child, repeats))
    return answers


def _child(parent: Element, name: str) -> Element | None:
    for child in parent:
        if local_name(child.tag) == name:
            return child
    return None


def _text(parent: Element | None, name: str) -> str | None:
    if parent is None:
        return None
    child = _child(parent, name)
    if child is None:
        return None
    return (child.text or "").strip() or None


@dataclass(frozen=True)
class EntityAction:
    """The ``<entity>`` block of a submission's meta (ODK entities spec): what it creates or updates."""

    dataset: str
    entity_id: str
    create: bool
    update: bool
    base_version: int | None
    label: str | None


def read_entity(root: Element) -> EntityAction | None:
    meta = _child(root, "meta")
    entity = _child(meta, "entity") if meta is not None else None
    if entity is None or not entity.get("dataset"):
        return None
    base = (entity.get("baseVersion") or "").strip()
    return EntityAction(
        dataset=entity.get("dataset", ""),
        entity_id=(entity.get("id") or "").strip().removeprefix("uuid:"),
        create=entity.get("create", "").strip().lower() in ("1", "true"),
        update=entity.get("update", "").strip().lower() in ("1", "true"),
        base_version=whole_number(base, MAX_INTEGER_COLUMN),  # it is stored with the history rows
        label=_text(entity, "label"),
    )
