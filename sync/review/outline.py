"""The shape of a published XForm as a reviewer reads it: groups, repeats and questions with their labels.

Read from the form's own XML (the version the submission was made with), so the submission page shows
the form's words in the form's languages (zh and en in our forms), choice labels instead of codes, and
the groups and repeats as the enumerator saw them. Only what the body shows is outlined: calculations
without a control are the server's business (the verdicts), not answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree

XF = "http://www.w3.org/2002/xforms"
H = "http://www.w3.org/1999/xhtml"
CONTROLS = {"input", "select1", "select", "upload", "range", "trigger", "odk:rank"}
_LANG_CODE = re.compile(r"\(([A-Za-z_-]+)\)\s*$")
_ITEXT = re.compile(r"jr:itext\('([^']+)'\)")


@dataclass
class Node:
    kind: str  # "group", "repeat" or "question"
    path: str  # /data/photos/ph_front
    labels: dict[str, str] = field(default_factory=dict)  # language code -> label text
    control: str = ""  # input, select1, select, upload, ...
    mediatype: str = ""
    choices: dict[str, dict[str, str]] = field(default_factory=dict)  # value -> language -> label
    choice_source: str = ""  # the secondary instance of an itemset (e.g. "admin"), "" for inline or own
    children: list[Node] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    def label(self, language: str) -> str:
        return _pick(self.labels, language) or self.name

    def choice_label(self, value: str, language: str) -> str | None:
        labels = self.choices.get(value)
        return _pick(labels, language) if labels else None


@dataclass
class Outline:
    title: str
    languages: list[str]
    nodes: list[Node]

    def walk(self):  # noqa: ANN201 - an iterator of Nodes
        stack = list(reversed(self.nodes))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


def _pick(labels: dict[str, str], language: str) -> str:
    if not labels:
        return ""
    return labels.get(language) or labels.get("default") or next(iter(labels.values()))


@lru_cache(maxsize=64)
def outline(xform: bytes) -> Outline:
    """The outline of an XForm (cached: a published version never changes, and this runs for every page)."""
    root = etree.fromstring(xform, etree.XMLParser(resolve_entities=False, no_network=True))
    model = root.find(f"{{{H}}}head/{{{XF}}}model")
    itext = _itext(model)
    instances = _instances(model)
    title = (root.findtext(f"{{{H}}}head/{{{H}}}title") or "").strip()
    body = root.find(f"{{{H}}}body")
    nodes = _children(body, itext, instances) if body is not None else []
    languages = sorted({lang for texts in itext.values() for lang in texts}) or ["default"]
    return Outline(title=title, languages=languages, nodes=nodes)


def _language(name: str) -> str:
    match = _LANG_CODE.search(name or "")
    return match.group(1).lower() if match else (name or "default").lower()


def _itext(model: etree._Element | None) -> dict[str, dict[str, str]]:
    """itext id -> language code -> text (``<output>`` references kept as ``${path}`` placeholders)."""
    found: dict[str, dict[str, str]] = {}
    if model is None:
        return found
    for translation in model.iter(f"{{{XF}}}translation"):
        language = _language(translation.get("lang", ""))
        for text in translation.iter(f"{{{XF}}}text"):
            values = [v for v in text.findall(f"{{{XF}}}value") if not v.get("form")]
            if values:
                found.setdefault(text.get("id", ""), {})[language] = _text_with_outputs(values[0])
    return found


def _text_with_outputs(element: etree._Element) -> str:
    parts = [element.text or ""]
    for child in element:
        if etree.QName(child).localname == "output":
            parts.append("${" + (child.get("value") or "").strip() + "}")
        parts.append(child.tail or "")
    return " ".join("".join(parts).split())


def _instances(model: etree._Element | None) -> dict[str, dict[str, dict[str, str]]]:
    """Internal secondary instances: name -> item value -> (``itextId`` or ``label``) -> text."""
    found: dict[str, dict[str, dict[str, str]]] = {}
    if model is None:
        return found
    for instance in model.findall(f"{{{XF}}}instance"):
        name = instance.get("id")
        if not name or instance.get("src"):
            continue
        items: dict[str, dict[str, str]] = {}
        for item in instance.iter(f"{{{XF}}}item"):
            value = item.findtext(f"{{{XF}}}name")
            if value is None:
                continue
            items[value] = {etree.QName(c).localname: (c.text or "") for c in item}
        found[name] = items
    return found


def _labels(element: etree._Element, itext: dict[str, dict[str, str]]) -> dict[str, str]:
    label = element.find(f"{{{XF}}}label")
    if label is None:
        return {}
    ref = label.get("ref") or ""
    match = _ITEXT.search(ref)
    if match:
        return dict(itext.get(match.group(1), {}))
    text = _text_with_outputs(label)
    return {"default": text} if text else {}


def _children(parent: etree._Element, itext: dict, instances: dict) -> list[Node]:
    nodes: list[Node] = []
    for child in parent:
        if not isinstance(child.tag, str):
            continue
        tag = etree.QName(child).localname
        if tag == "group":
            nodes.append(_group(child, itext, instances))
        elif tag == "repeat":
            nodes.append(Node("repeat", child.get("nodeset", ""), {}, children=_children(child, itext, instances)))
        elif tag in CONTROLS and child.get("ref"):
            nodes.append(_question(child, tag, itext, instances))
    return nodes


def _group(element: etree._Element, itext: dict, instances: dict) -> Node:
    children = _children(element, itext, instances)
    labels = _labels(element, itext)
    ref = element.get("ref", "")
    if len(children) == 1 and children[0].kind == "repeat" and (not ref or children[0].path == ref):
        repeat = children[0]
        repeat.labels = labels
        return repeat
    return Node("group", ref, labels, children=children)


def _question(element: etree._Element, tag: str, itext: dict, instances: dict) -> Node:
    node = Node("question", element.get("ref", ""), _labels(element, itext), control=tag,
                mediatype=element.get("mediatype", ""))
    for item in element.findall(f"{{{XF}}}item"):
        value = item.findtext(f"{{{XF}}}value")
        if value is not None:
            node.choices[value] = _labels(item, itext)
    itemset = element.find(f"{{{XF}}}itemset")
    if itemset is not None:
        match = re.match(r"instance\('([^']+)'\)", itemset.get("nodeset", ""))
        source = match.group(1) if match else ""
        items = instances.get(source)
        if items is None:
            node.choice_source = source  # an external list (a CSV or the households entity list)
        else:
            for value, columns in items.items():
                if "itextId" in columns:
                    node.choices[value] = dict(itext.get(columns["itextId"], {}))
                elif "label" in columns:
                    node.choices[value] = {"default": columns["label"]}
    return node
