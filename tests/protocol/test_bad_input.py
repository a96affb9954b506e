"""Every bad input gets a clear 4xx in OpenRosa format, never a 500, and leaves nothing behind."""

from __future__ import annotations

import pytest

from tests.collect import COLLECT_HEADERS, Multipart, Part, submission_body
from tests.images import jpeg_bytes
from tests.protocol.conftest import counts

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<data id="collect_photos" version="1"><name>&lol3;</name><meta><instanceID>uuid:b1</instanceID></meta></data>"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<data id="collect_photos" version="1"><name>&xxe;</name><meta><instanceID>uuid:b2</instanceID></meta></data>"""


def _assert_clean_refusal(response, status: int, services, text: bytes) -> None:  # noqa: ANN001
    assert response.status_code == status, response.data
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert b"<OpenRosaResponse" in response.data
    assert text in response.data
    left = counts(services)
    assert (left["submissions"], left["versions"], left["attachments"]) == (0, 0, 0)
    assert left["tmp_files"] == 0


@pytest.mark.parametrize(
    ("xml", "text"),
    [
        (b"<data id='collect_photos' version='1'><name>unclosed</data>", b"not well-formed"),
        (b"not xml at all", b"not well-formed"),
        (BILLION_LAUGHS, b"DOCTYPE"),
        (XXE, b"DOCTYPE"),
        (b"<data version='1'><meta><instanceID>uuid:x</instanceID></meta></data>", b"form ID"),
    ],
    ids=["malformed", "not-xml", "billion-laughs", "xxe", "no-form-id"],
)
def test_bad_xml_is_400(collect, photo_form, services, xml: bytes, text: bytes) -> None:
    _assert_clean_refusal(collect.post(submission_body(xml, {"p.jpg": jpeg_bytes(1)})), 400, services, text)


def test_unknown_form_is_404(collect, photo_form, services) -> None:
    xml = b"<data id='nope' version='1'><meta><instanceID>uuid:u1</instanceID></meta></data>"
    _assert_clean_refusal(collect.post(submission_body(xml)), 404, services, b"nope")


def test_unknown_form_version_is_404(collect, photo_form, services) -> None:
    xml = photo_form.xml("uuid:u2", {"name": "a"}).replace(b'version="1"', b'version="99"')
    _assert_clean_refusal(collect.post(submission_body(xml)), 404, services, b"99")


def test_missing_xml_submission_file_is_400(collect, photo_form, services) -> None:
    multipart = Multipart([Part("p.jpg", jpeg_bytes(1), "image/jpeg", "p.jpg")])
    _assert_clean_refusal(collect.post(multipart), 400, services, b"xml_submission_file")


def test_non_multipart_body_is_400(collect, photo_form, services) -> None:
    response = collect.client.post(
        f"{collect.server_path}/submission",
        data=photo_form.xml("uuid:u3", {"name": "a"}),
        content_type="text/xml",
        headers=COLLECT_HEADERS,
    )
    _assert_clean_refusal(response, 400, services, b"multipart/form-data")


def test_truncated_multipart_body_is_400(collect, photo_form, services) -> None:
    body = submission_body(photo_form.xml("uuid:u4", {"name": "a", "photo": "p.jpg"}), {"p.jpg": jpeg_bytes(2)})
    raw = body.body()[:-200]
    response = collect.client.post(
        f"{collect.server_path}/submission", data=raw, content_type=body.content_type, headers=COLLECT_HEADERS
    )
    assert response.status_code == 400
    left = counts(services)
    assert (left["submissions"], left["tmp_files"]) == (0, 0)


@pytest.mark.parametrize("name", ["../evil.jpg", "sub/dir.jpg", "..\\evil.jpg", "/etc/passwd", ".."])
def test_attachment_name_with_a_path_is_400(collect, photo_form, services, name: str) -> None:
    xml = photo_form.xml("uuid:u5", {"name": "a", "photo": name})
    _assert_clean_refusal(collect.post(submission_body(xml, {name: jpeg_bytes(3)})), 400, services, b"file name")


def test_body_over_the_limit_is_413_in_openrosa_format(collect, photo_form, services, app) -> None:
    app.config["MAX_CONTENT_LENGTH"] = 50_000
    xml = photo_form.xml("uuid:u6", {"name": "a", "photo": "big.jpg"})
    response = collect.post(submission_body(xml, {"big.jpg": b"\xff" * 60_000}))
    _assert_clean_refusal(response, 413, services, b"larger than")


def test_form_of_another_project_is_404(collect, services, client) -> None:
    from sync.db.engine import transaction
    from sync.db.models import Project
    from sync.intake.publishing import publish_source
    from tests.conftest import DATA

    with transaction(services.sessions) as session:
        other = Project(name="Other county")
        session.add(other)
        session.flush()
        publish_source(session, services.store, other, DATA / "forms" / "collect_photos.md")
    xml = b"<data id='collect_photos' version='1'><meta><instanceID>uuid:u7</instanceID></meta></data>"
    _assert_clean_refusal(collect.post(submission_body(xml)), 404, services, b"collect_photos")


def test_token_of_another_project_is_403(collect, services, client, photo_form) -> None:
    from sync.db.engine import transaction
    from sync.db.models import Project

    with transaction(services.sessions) as session:
        session.add(Project(name="Other county"))
    other_path = collect.server_path.rsplit("/", 1)[0] + "/2"
    response = client.get(f"{other_path}/formList", headers=COLLECT_HEADERS)
    assert response.status_code == 403
    assert b"another project" in response.data


def test_wrong_basic_credentials_get_401_with_a_challenge(client, project, services) -> None:
    from sync.access.accounts import create_user
    from sync.db.engine import transaction

    with transaction(services.sessions) as session:
        create_user(session, "sup@example.org", "right password 1", "supervisor")
    response = client.get(
        f"/v1/projects/{project.id}/formList",
        headers={**COLLECT_HEADERS, "Authorization": "Basic c3VwQGV4YW1wbGUub3JnOndyb25n"},
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    ok = client.get(
        f"/v1/projects/{project.id}/formList",
        headers=COLLECT_HEADERS,
        auth=("sup@example.org", "right password 1"),
    )
    assert ok.status_code == 200


def test_unknown_url_under_the_token_prefix_is_openrosa_404(collect) -> None:
    response = collect.get(f"{collect.server_path}/nothing-here")
    assert response.status_code == 404
    assert b"<OpenRosaResponse" in response.data


# -- what the hostile-request run found (tests/protocol/test_hostile.py runs the same kinds in bulk) --------------


@pytest.mark.parametrize("encoding", ["x-unknown", "rot13", "shift_jis", "utf-16"])
def test_an_unknown_or_unusable_xml_encoding_is_400(collect, photo_form, services, encoding: str) -> None:
    xml = photo_form.xml("uuid:enc", {"name": "a"}).replace(b'encoding="UTF-8"', f'encoding="{encoding}"'.encode())
    _assert_clean_refusal(collect.post(submission_body(xml)), 400, services, b"not well-formed")


def _nested(photo_form, depth: int) -> bytes:  # noqa: ANN001
    """The photo form's XML with ``depth`` levels of elements below its root (the root itself is level 1)."""
    inner = "<g>" * (depth - 1) + "x" + "</g>" * (depth - 1)
    return photo_form.xml("uuid:deep", {"name": "a"}).replace(b"<name>", inner.encode() + b"<name>")


def test_xml_nested_up_to_the_limit_is_accepted(collect, photo_form) -> None:
    from sync.intake.instance_xml import MAX_XML_DEPTH

    assert collect.post(submission_body(_nested(photo_form, MAX_XML_DEPTH))).status_code == 201


@pytest.mark.parametrize("depth", [101, 100_000])
def test_deeply_nested_xml_is_refused_at_the_door(collect, photo_form, services, depth: int) -> None:
    """It used to be accepted, and then its normalize job failed with RecursionError on every try."""
    response = collect.post(submission_body(_nested(photo_form, depth)))
    _assert_clean_refusal(response, 400, services, b"nested more than 100 levels deep")


def test_xml_of_a_million_levels_is_refused_by_its_size(collect, photo_form, services) -> None:
    _assert_clean_refusal(collect.post(submission_body(_nested(photo_form, 1_000_000))), 413, services, b"XML is")


def test_xml_with_too_many_elements_is_400(collect, photo_form, services) -> None:
    xml = photo_form.xml("uuid:wide", {"name": "a"}).replace(b"<name>", b"<a/>" * 100_001 + b"<name>")
    _assert_clean_refusal(collect.post(submission_body(xml)), 400, services, b"more than 100,000 elements")


@pytest.mark.parametrize(
    ("field", "make"),
    [
        ("instanceID", lambda xml: xml.replace(b"uuid:long", b"uuid:" + b"x" * 200)),
        ("deprecatedID", lambda xml: xml.replace(b"<orx:instanceID>", b"<orx:deprecatedID>" + b"d" * 201
                                                 + b"</orx:deprecatedID><orx:instanceID>")),
        ("instanceName", lambda xml: xml.replace(b"<orx:instanceID>", b"<orx:instanceName>" + b"n" * 501
                                                 + b"</orx:instanceName><orx:instanceID>")),
    ],
)
def test_identifiers_longer_than_their_columns_are_400(collect, photo_form, services, field: str, make) -> None:  # noqa: ANN001
    response = collect.post(submission_body(make(photo_form.xml("uuid:long", {"name": "a"}))))
    _assert_clean_refusal(response, 400, services, field.encode())


def test_identifiers_as_long_as_their_columns_are_accepted(collect, photo_form) -> None:
    name = b"<orx:instanceName>" + b"n" * 500 + b"</orx:instanceName><orx:instanceID>"
    xml = photo_form.xml("uuid:" + "x" * 195, {"name": "a"}).replace(b"<orx:instanceID>", name)
    assert collect.post(submission_body(xml)).status_code == 201


def test_a_device_id_longer_than_its_column_is_400(collect, photo_form, services) -> None:
    body = submission_body(photo_form.xml("uuid:device", {"name": "a"}))
    response = collect.client.post(
        f"{collect.server_path}/submission?deviceID={'d' * 201}",
        data=body.body(),
        content_type=body.content_type,
        headers=COLLECT_HEADERS,
    )
    _assert_clean_refusal(response, 400, services, b"deviceID")


def test_files_the_xml_does_not_name_are_ignored_whatever_their_names(collect, photo_form, services) -> None:
    xml = photo_form.xml("uuid:extra", {"name": "a", "photo": "p.jpg"})
    multipart = submission_body(xml, {"p.jpg": jpeg_bytes(4)})
    for odd in ("../../etc/x", "a\x01b", " lead", "x" * 300, ".."):
        multipart.parts.append(Part(odd, b"not named by the XML", "text/plain", odd))
    assert collect.post(multipart).status_code == 201
    listed = counts(services)
    assert (listed["submissions"], listed["attachments"], listed["tmp_files"]) == (1, 1, 0)


def test_more_than_a_thousand_parts_is_413_saying_so(collect, photo_form, services) -> None:
    multipart = submission_body(photo_form.xml("uuid:parts", {"name": "a"}))
    multipart.parts += [Part(f"f{n}.bin", b"x", "application/octet-stream", f"f{n}.bin") for n in range(1000)]
    _assert_clean_refusal(collect.post(multipart), 413, services, b"more than 1,000 multipart parts")


def test_a_large_text_field_is_413_saying_so(collect, photo_form, services) -> None:
    multipart = submission_body(photo_form.xml("uuid:text", {"name": "a"}))
    multipart.parts.append(Part("*isIncomplete*", b"y" * 1_000_000, None, None))
    _assert_clean_refusal(collect.post(multipart), 413, services, b"text fields add up to more than 65,536 bytes")


def test_part_headers_that_never_end_are_400(collect, photo_form, services) -> None:
    boundary = "unending"
    body = f"--{boundary}\r\nContent-Disposition: form-data; name=\"x\"\r\nX-Long: ".encode() + b"h" * 200_000
    response = collect.client.post(
        f"{collect.server_path}/submission",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=COLLECT_HEADERS,
    )
    _assert_clean_refusal(response, 400, services, b"malformed")


@pytest.mark.parametrize("path", ["/forms/a%00b.xml", "/forms/a%01b%0D%0A.xml", "/nothing%00here"])
def test_an_openrosa_404_echoing_control_characters_is_well_formed_xml(collect, path: str) -> None:
    from defusedxml.ElementTree import fromstring

    response = collect.get(f"{collect.server_path}{path}")
    assert response.status_code == 404
    root = fromstring(response.data)
    assert root.tag == "{http://openrosa.org/http/response}OpenRosaResponse"
