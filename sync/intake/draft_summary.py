"""What the upload page shows for a draft that is ready: "ready to publish" with what goes out.

Read from the draft's XForm bytes (what phones will download), so the summary cannot disagree with the
phone: the form id, version and title, the languages of its labels, how many questions a phone asks, and
the media files still to upload (docs/forms.md §9).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from sync.db.models import Form, FormDraft

XFORMS = "http://www.w3.org/2002/xforms"
# Body controls a phone shows as a question (XForms 1.0 and ODK's additions).
_CONTROLS = {"input", "select1", "select", "upload", "range", "rank", "trigger", "odk:rank"}


@dataclass(frozen=True)
class DraftSummary:
    form_id: str
    version: str
    title: str
    languages: tuple[str, ...]
    questions: int
    missing_media: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.missing_media


def summarize(form: Form, draft: FormDraft) -> DraftSummary:
    root = etree.fromstring(draft.xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    languages = tuple(
        dict.fromkeys(t.get("lang", "") for t in root.iter(f"{{{XFORMS}}}translation") if t.get("lang"))
    )
    body = next(iter(root.iter("{http://www.w3.org/1999/xhtml}body")), None)
    questions = 0
    if body is not None:
        questions = sum(
            1
            for element in body.iter()
            if isinstance(element.tag, str) and etree.QName(element).localname in _CONTROLS
        )
    missing = tuple(a.name for a in draft.attachments if a.dataset is None and a.sha256 is None)
    return DraftSummary(form.xml_form_id, draft.version, draft.title, languages, questions, missing)
