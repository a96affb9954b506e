"""Read the identifiers of a submission's XML without trusting it.

The XML comes from a phone or from anyone on the network: it is parsed with defusedxml, which refuses
DOCTYPEs and entity declarations outright (XXE, "billion laughs"), and only the few facts the server
needs are read, by local name whatever the namespace prefix (openrosa.md 7.6).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from sync.errors import HostileXml, InvalidXml, MissingFormId


@dataclass(frozen=True)
class InstanceHeader:
    form_id: str
    version: str
    instance_id: str
    deprecated_id: str | None
    instance_name: str | None
    generated_instance_id: bool


def local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_instance(xml: bytes) -> Element:
    """The root element, or a typed problem for hostile or malformed XML."""
    try:
        return fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise HostileXml() from exc
    except (ParseError, ValueError) as exc:
        raise InvalidXml(f"The submission is not well-formed XML ({exc}).") from exc


def read_header(root: Element) -> InstanceHeader:
    form_id = root.get("id", "").strip()
    if not form_id:
        raise MissingFormId()
    meta = _child(root, "meta")
    instance_id = _text(meta, "instanceID") if meta is not None else None
    instance_id = instance_id or _text(root, "instanceID")
    generated = not instance_id
    return InstanceHeader(
        form_id=form_id,
        version=root.get("version", "").strip(),
        # Central gives an unencrypted submission without instanceID a server-made UUID (openrosa.md 7.6).
        instance_id=instance_id or f"uuid:{uuid.uuid4()}",
        deprecated_id=_text(meta, "deprecatedID") if meta is not None else None,
        instance_name=_text(meta, "instanceName") if meta is not None else None,
        generated_instance_id=generated,
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
