"""Stored files are served as what their bytes are, never as a page of this origin; every response has a CSP.

An app user could upload an attachment typed ``text/html`` or ``image/svg+xml`` and its URL served it back
with that type, inline, without ``nosniff``: script in a supervisor's browser once review pages share the
origin.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.collect import Multipart, Part, submission_body
from tests.conftest import DATA
from tests.images import jpeg_bytes
from tests.protocol.conftest import publish

HTML = b"<html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def _upload(collect, photo_form, instance_id: str, name: str, data: bytes, declared: str) -> None:  # noqa: ANN001
    multipart = Multipart([Part("xml_submission_file", photo_form.xml(instance_id, {"name": "a", "photo": name}),
                                "text/xml", "i.xml"), Part(name, data, declared, name)])
    assert collect.post(multipart).status_code == 201


def _assert_stored_file_headers(response) -> None:  # noqa: ANN001
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert "sandbox" in policy and "default-src 'none'" in policy


@pytest.mark.parametrize(
    ("name", "data", "declared"),
    [("x.html", HTML, "text/html"), ("x.svg", SVG, "image/svg+xml"), ("x.xhtml", HTML, "application/xhtml+xml"),
     ("p.jpg", HTML, "image/jpeg")],
)
def test_an_attachment_that_is_not_an_image_is_a_download(
    client, collect, photo_form, supervisor, name: str, data: bytes, declared: str
) -> None:
    _upload(collect, photo_form, "uuid:xss", name, data, declared)
    response = client.get(f"/v1/projects/1/forms/{photo_form.form_id}/submissions/uuid:xss/attachments/{name}",
                          headers=supervisor)
    assert response.status_code == 200 and response.data == data
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    _assert_stored_file_headers(response)


@pytest.mark.parametrize(("data", "kind"), [(jpeg_bytes(7), "image/jpeg"), (_png(), "image/png")])
def test_an_image_is_served_as_the_image_its_bytes_show(
    client, collect, photo_form, supervisor, data: bytes, kind: str
) -> None:
    _upload(collect, photo_form, "uuid:img", "x.html", data, "text/html")
    response = client.get(f"/v1/projects/1/forms/{photo_form.form_id}/submissions/uuid:img/attachments/x.html",
                          headers=supervisor)
    assert response.status_code == 200 and response.data == data
    assert response.headers["Content-Type"] == kind
    assert response.headers["Content-Disposition"].startswith("inline;")
    _assert_stored_file_headers(response)


def test_the_submission_xml_is_a_sandboxed_download(client, collect, photo_form, supervisor) -> None:
    xml = photo_form.xml("uuid:xhtml", {"name": "a"}).replace(
        b"<name>a</name>", b'<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script>'
    )
    assert collect.post(submission_body(xml)).status_code == 201
    response = client.get(f"/v1/projects/1/forms/{photo_form.form_id}/submissions/uuid:xhtml.xml", headers=supervisor)
    assert response.status_code == 200 and response.data == xml
    assert response.headers["Content-Disposition"].startswith("attachment;")
    _assert_stored_file_headers(response)


def test_form_media_is_served_the_same_way(collect, services, project) -> None:
    form = publish(services, project, DATA / "forms" / "village_visit.md")
    response = collect.get(f"{collect.server_path}/forms/{form.form_id}/attachments/villages.csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    _assert_stored_file_headers(response)


def test_every_response_carries_nosniff_and_a_content_security_policy(client, collect, photo_form, supervisor) -> None:
    responses = [
        client.get("/healthz"),
        client.get("/v1/projects/1/forms", headers=supervisor),
        client.get("/v1/projects/1/forms"),  # 401
        collect.form_list(),
        collect.get(f"{collect.server_path}/no-such-thing"),
        collect.post(submission_body(b"not xml")),
        client.get("/nowhere"),
    ]
    for response in responses:
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "object-src 'none'" in policy
