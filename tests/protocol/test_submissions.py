"""Submission rules as ODK Central has them (docs/protocol.md §7.4-7.7), each checked through the protocol."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from sync.db.models import SubmissionAttachment, SubmissionVersion
from tests.collect import split_posts, submission_body
from tests.images import jpeg_bytes
from tests.protocol.conftest import counts


def _versions(services, instance_id: str | None = None) -> list[SubmissionVersion]:  # noqa: ANN001
    with services.sessions() as session:
        query = select(SubmissionVersion).order_by(SubmissionVersion.id)
        return list(session.scalars(query))


def _attachments(services) -> list[SubmissionAttachment]:  # noqa: ANN001
    with services.sessions() as session:
        return list(session.scalars(select(SubmissionAttachment).order_by(SubmissionAttachment.id)))


def test_submission_with_photo_is_201_with_openrosa_body_and_stored(collect, photo_form, services) -> None:
    photo = jpeg_bytes(1)
    xml = photo_form.xml("uuid:s1", {"name": "王芳", "photo": "1714550000000.jpg"})
    response = collect.post(submission_body(xml, {"1714550000000.jpg": photo}))
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert b"<OpenRosaResponse" in response.data and b"<message" in response.data
    (version,) = _versions(services)
    assert version.xml == xml  # byte for byte
    assert version.device_id == "collect:AbCdEf0123456789"
    assert version.user_agent.startswith("org.odk.collect.android/")
    (attachment,) = _attachments(services)
    assert attachment.present and attachment.sha256 == hashlib.sha256(photo).hexdigest()
    with services.store.open(attachment.blob_key) as handle:
        assert handle.read() == photo


def test_identical_resend_is_accepted_without_a_duplicate(collect, photo_form, services) -> None:
    xml = photo_form.xml("uuid:s2", {"name": "a", "photo": "p.jpg"})
    body = submission_body(xml, {"p.jpg": jpeg_bytes(2)})
    assert collect.post(body).status_code == 201
    assert collect.post(body).status_code == 201
    assert counts(services)["submissions"] == 1
    assert counts(services)["versions"] == 1


def test_large_submission_in_parts_fills_in_missing_attachments(collect, photo_form, services) -> None:
    """Collect splits by the HEAD limit and resends the identical XML with the remaining files."""
    xml = photo_form.xml("uuid:s3", {"name": "a", "photo": "a.jpg", "photo2": "b.jpg"})
    files = {"a.jpg": jpeg_bytes(3, (800, 600)), "b.jpg": jpeg_bytes(4, (800, 600))}
    posts = split_posts(xml, files, limit=len(xml) + len(files["a.jpg"]) + 10)
    assert len(posts) == 2 and any(p.name == "*isIncomplete*" for p in posts[0].parts)
    first = collect.post(posts[0])
    assert first.status_code == 201
    present = {a.name: a.present for a in _attachments(services)}
    assert present == {"a.jpg": True, "b.jpg": False}
    assert collect.post(posts[1]).status_code == 201
    assert {a.name: a.present for a in _attachments(services)} == {"a.jpg": True, "b.jpg": True}
    assert counts(services)["submissions"] == 1


def test_resend_after_a_dropped_connection_completes_the_submission(collect, photo_form, services) -> None:
    """The first POST carried the XML but the photo never arrived: the whole instance is sent again."""
    xml = photo_form.xml("uuid:s4", {"name": "a", "photo": "p.jpg"})
    assert collect.post(submission_body(xml)).status_code == 201
    assert [a.present for a in _attachments(services)] == [False]
    assert collect.post(submission_body(xml, {"p.jpg": jpeg_bytes(5)})).status_code == 201
    assert [a.present for a in _attachments(services)] == [True]


def test_same_instance_id_with_different_xml_is_409(collect, photo_form, services) -> None:
    assert collect.post(submission_body(photo_form.xml("uuid:s5", {"name": "a"}))).status_code == 201
    response = collect.post(submission_body(photo_form.xml("uuid:s5", {"name": "b"})))
    assert response.status_code == 409
    assert b"different XML" in response.data
    assert counts(services)["versions"] == 1


def test_edit_with_deprecated_id_replaces_the_current_version_and_keeps_history(
    collect, photo_form, services, client
) -> None:
    photo = jpeg_bytes(6)
    original = photo_form.xml("uuid:e1", {"name": "before", "photo": "p.jpg"})
    assert collect.post(submission_body(original, {"p.jpg": photo})).status_code == 201
    edited = photo_form.xml("uuid:e2", {"name": "after", "photo": "p.jpg"}, deprecated_id="uuid:e1")
    assert collect.post(submission_body(edited)).status_code == 201
    versions = _versions(services)
    assert [(v.instance_id, v.current) for v in versions] == [("uuid:e1", False), ("uuid:e2", True)]
    assert versions[1].deprecated_id == "uuid:e1"
    assert versions[0].submission_id == versions[1].submission_id
    # The photo the edit still names is carried over, not lost.
    current = [a for a in _attachments(services) if a.submission_version_id == versions[1].id]
    assert [(a.name, a.present) for a in current] == [("p.jpg", True)]
    # Editing the old copy again is refused: it is out of date.
    stale = photo_form.xml("uuid:e3", {"name": "again"}, deprecated_id="uuid:e1")
    assert collect.post(submission_body(stale)).status_code == 409


def test_edit_of_an_unknown_submission_is_404(collect, photo_form) -> None:
    xml = photo_form.xml("uuid:e9", {"name": "x"}, deprecated_id="uuid:nope")
    response = collect.post(submission_body(xml))
    assert response.status_code == 404
    assert b"find that submission to update" in response.data


def test_unreferenced_attachments_are_ignored(collect, photo_form, services) -> None:
    xml = photo_form.xml("uuid:s6", {"name": "a"})
    assert collect.post(submission_body(xml, {"stray.jpg": jpeg_bytes(7)})).status_code == 201
    assert _attachments(services) == []


def test_submission_to_an_older_form_version_is_accepted(collect, photo_form, services) -> None:
    older = photo_form.xml("uuid:s7", {"name": "a"})
    # Publish a new version of the same form; phones that have not updated still send version 1.
    from sync.intake.projects import get_project
    from tests.conftest import DATA
    from tests.protocol.conftest import publish

    with services.sessions() as session:
        project = get_project(session, 1)
    newer = publish(services, project, DATA / "forms" / "collect_photos_v2.md")
    assert newer.version != photo_form.version
    assert collect.post(submission_body(older)).status_code == 201
