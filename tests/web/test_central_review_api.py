"""Central's review API beside the pages: comments, versions and diffs, audits, review notes, originals on
S3 as a redirect to a presigned URL; and personal data masked unless the role may see it (audited)."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select, update

from sync.db.models import Audit, PhotoCheck, Submission, SubmissionAttachment
from tests.collect import submission_body
from tests.media.deployments import aws_credentials, blob_store, s3_bucket, s3_server, settings  # noqa: F401
from tests.sync.survey import appraisal
from tests.web.test_queue import signed_in
from tests.web.workspace import TOWNSHIP_A, TOWNSHIP_B, VILLAGE_A, Workspace, basic, settle

FORM = "/v1/projects/{p}/forms/house_appraisal/submissions/{i}"


def test_comments_are_a_thread_within_the_area(client, small_county: Workspace, project) -> None:  # noqa: ANN001
    instance = small_county.instances(TOWNSHIP_A)[0]
    url = FORM.format(p=project.id, i=instance) + "/comments"
    posted = client.post(url, json={"body": "请补拍墙体照片"}, headers=basic("supervisor", "township_a"))
    assert posted.status_code == 200 and posted.get_json()["body"] == "请补拍墙体照片"
    listed = client.get(url, headers=basic("viewer", "county")).get_json()
    assert [c["body"] for c in listed] == ["请补拍墙体照片"] and listed[0]["actorId"]
    assert client.post(url, json={}, headers=basic("supervisor", "township_a")).status_code == 400
    assert client.post(url, json={"body": "x"}, headers=basic("viewer", "county")).status_code == 403
    assert client.get(url, headers=basic("supervisor", "township_b")).status_code == 404
    audits = client.get(FORM.format(p=project.id, i=instance) + "/audits", headers=basic("viewer", "county"))
    assert [a["action"] for a in audits.get_json()] == ["submission.comment"]


def test_versions_and_diffs_of_an_edit(client, collect, survey_forms, small_county: Workspace, project,
                                       services) -> None:  # noqa: ANN001
    instance = small_county.instances(TOWNSHIP_A, "A")[0]
    with services.sessions() as session:
        submission = session.scalar(select(Submission).where(Submission.instance_id == instance))
        entity = session.scalar(select(Submission.household_code).where(Submission.id == submission.id))
    from sync.db.models import Household

    with services.sessions() as session:
        entity_id = session.scalar(select(Household.entity_id).where(Household.code == entity))
    edited = survey_forms.xml("house_appraisal", appraisal(entity_id, day="2021-05-20", wall="c"),
                              entity_id=entity_id, base_version=1, instance_id="uuid:edit-1", deprecated_id=instance)
    assert collect.post(submission_body(edited)).status_code == 201
    settle(services)
    base = FORM.format(p=project.id, i=instance)
    headers = basic("supervisor", "township_a")
    versions = client.get(base + "/versions", headers=headers).get_json()
    assert [v["instanceId"] for v in versions] == ["uuid:edit-1", instance]
    assert [v["current"] for v in versions] == [True, False]
    assert client.get(base + "/versions/" + instance, headers=headers).get_json()["instanceId"] == instance
    xml = client.get(base + "/versions/uuid:edit-1.xml", headers=headers)
    assert xml.status_code == 200 and b"<g_wall>c</g_wall>" in xml.data
    assert client.get(base + "/versions/uuid:none", headers=headers).status_code == 404
    diffs = client.get(base + "/diffs", headers=headers).get_json()
    changes = {tuple(change["path"]): (change["old"], change["new"]) for change in diffs["uuid:edit-1"]}
    assert changes[("g_wall",)] == ("a", "c")
    assert client.get(base + "/diffs", headers=basic("supervisor", "township_b")).status_code == 404
    page = signed_in(client.application, "supervisor", "township_a").get(
        f"/projects/{project.id}/forms/house_appraisal/submissions/{instance}").get_data(as_text=True)
    assert "g_wall" in page and "<del>a</del>" in page and "<ins>c</ins>" in page


def test_the_audit_log_by_action_and_time_for_those_who_may_read_it(client, small_county: Workspace,
                                                                   project) -> None:  # noqa: ANN001
    instance = small_county.instances(TOWNSHIP_A)[0]
    client.patch(FORM.format(p=project.id, i=instance), json={"reviewState": "approved"},
                 headers={**basic("supervisor", "township_a"), "X-Action-Notes": "ok"})
    found = client.get("/v1/audits?action=submission.update&limit=5", headers=basic("admin", "project")).get_json()
    assert [(a["action"], a["acteeId"], a["details"]) for a in found] == [
        ("submission.update", instance, {"reviewState": "approved", "notes": "ok"})]
    assert client.get("/v1/audits?action=user&start=2000-01-01", headers=basic("admin", "project")).get_json()
    assert client.get("/v1/audits?end=2000-01-01", headers=basic("admin", "project")).get_json() == []
    assert client.get("/v1/audits", headers=basic("supervisor", "project")).status_code == 403
    assert client.get("/v1/audits?limit=x", headers=basic("admin", "project")).status_code == 400
    scoped = client.get("/v1/audits?action=submission", headers=basic("manager", "township_b")).get_json()
    assert scoped == []  # the decision concerns township A
    admin = signed_in(client.application, "admin", "project")
    html = admin.get(f"/projects/{project.id}/audits?action=submission").get_data(as_text=True)
    assert 'data-action="submission.update"' in html
    assert signed_in(client.application, "supervisor", "project").get(
        f"/projects/{project.id}/audits").status_code == 403


def test_personal_data_is_masked_unless_the_role_may_see_it(client, small_county: Workspace, project,
                                                           services) -> None:  # noqa: ANN001
    instance = next(i for i in small_county.photo if VILLAGE_A in i)
    with services.sessions() as session:
        code = session.scalar(select(Submission.household_code).where(Submission.instance_id == instance))
    url = f"/v1/projects/{project.id}/registry/households/{code}"
    masked = client.get(url, headers=basic("supervisor", "township_a")).get_json()
    head = masked["members"][0]["idNumber"]
    assert head.startswith("150121") and "********" in head
    full = client.get(url, headers=basic("manager", "county")).get_json()
    assert full["members"][0]["idNumber"].startswith("15012119700101")
    with services.sessions() as session:
        views = session.scalars(select(Audit).where(Audit.action == "pii.view")).all()
        assert [v.subject for v in views] == [f"household {code}"]
    page = f"/projects/{project.id}/households/{code}"
    manager = signed_in(client.application, "manager", "county")
    assert "19700101" not in manager.get(page).get_data(as_text=True)
    assert "19700101" in manager.get(page + "?reveal=1").get_data(as_text=True)
    assert signed_in(client.application, "supervisor", "township_a").get(page + "?reveal=1").status_code == 403
    with services.sessions() as session:
        assert session.scalar(select(Audit).where(Audit.action == "pii.view").order_by(Audit.id.desc())).subject \
            == f"household {code}"
    baseline = client.get(f"/v1/projects/{project.id}/forms/hh_baseline/submissions",
                          headers=basic("viewer", "township_a")).get_json()[0]["instanceId"]
    xml = client.get(f"/v1/projects/{project.id}/forms/hh_baseline/submissions/{baseline}.xml",
                     headers=basic("viewer", "township_a")).data
    assert b"********" in xml and b"19700101" not in xml


@pytest.mark.parametrize("blob_store", ["s3"])
def test_an_original_on_s3_is_a_redirect_to_a_presigned_url(client, small_county: Workspace, project,
                                                           services) -> None:  # noqa: ANN001
    instance = next(i for i in small_county.photo if TOWNSHIP_B in i)
    name = small_county.photo[instance]
    response = client.get(FORM.format(p=project.id, i=instance) + f"/attachments/{name}",
                          headers=basic("supervisor", "township_b"))
    assert response.status_code == 307
    fetched = requests.get(response.location, timeout=10)
    assert fetched.status_code == 200 and fetched.content[:2] == b"\xff\xd8"
    assert fetched.headers["Content-Type"] == "image/jpeg"
    assert fetched.headers["Content-Disposition"].startswith("inline")
    page = signed_in(client.application, "supervisor", "township_b")
    html = page.get(f"/projects/{project.id}/forms/house_appraisal/submissions/{instance}").get_data(as_text=True)
    import re

    original = re.search(r'href="(/projects/\d+/photos/[0-9a-f]{64})"', html).group(1)
    assert page.get(original).status_code == 307
    thumbnail = page.get(original + "/1024")
    assert thumbnail.status_code == 200 and "immutable" in thumbnail.headers["Cache-Control"]


@pytest.mark.parametrize("blob_store", ["s3"])
def test_a_presigned_original_is_typed_by_its_bytes_not_by_the_phone(client, small_county: Workspace, project,
                                                                      services) -> None:  # noqa: ANN001
    """A file sent as ``front.jpg`` whose bytes are a page must reach the browser as a download, not as what the
    phone declared; the photo checks' type is used, or before they ran the first bytes'."""
    instance = next(i for i in small_county.photo if TOWNSHIP_B in i)
    url = FORM.format(p=project.id, i=instance) + f"/attachments/{small_county.photo[instance]}"
    with services.sessions() as session, session.begin():
        attachment = session.scalars(select(SubmissionAttachment).where(
            SubmissionAttachment.name == small_county.photo[instance])).one()  # fmt: skip
        key, sha256 = attachment.blob_key, attachment.sha256
        # As before the photos job ran: no decoded type on record.
        session.execute(update(PhotoCheck).where(PhotoCheck.sha256 == sha256).values(image_format=None))
    unchecked = client.get(url, headers=basic("supervisor", "township_b"))
    assert requests.get(unchecked.location, timeout=10).headers["Content-Type"] == "image/jpeg"
    services.store.put_bytes(key, b"<html><script>alert(1)</script></html>", content_type="image/jpeg")
    page = requests.get(client.get(url, headers=basic("supervisor", "township_b")).location, timeout=10)
    assert page.headers["Content-Type"] == "application/octet-stream"
    assert page.headers["Content-Disposition"].startswith("attachment")
