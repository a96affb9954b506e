"""docs/protocol.md §12, point by point: what ODK Collect needs from the form list, downloads and HEAD."""

from __future__ import annotations

import hashlib

from lxml import etree

FORMLIST_NS = "{http://openrosa.org/xforms/xformsList}"


def _xforms(response) -> dict[str, dict[str, str]]:  # noqa: ANN001
    root = etree.fromstring(response.data)
    assert root.tag == f"{FORMLIST_NS}xforms"
    return {
        x.findtext(f"{FORMLIST_NS}formID"): {child.tag.split("}")[1]: (child.text or "") for child in x}
        for x in root.findall(f"{FORMLIST_NS}xform")
    }


def test_form_list_is_text_xml_with_openrosa_headers_and_no_caching(collect, photo_form) -> None:
    response = collect.form_list()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.headers["X-OpenRosa-Version"] == "1.0"
    assert "Date" in response.headers
    assert "max-age" not in response.headers.get("Cache-Control", "")
    assert "Expires" not in response.headers
    entry = _xforms(response)["collect_photos"]
    assert entry["name"] and entry["version"] == photo_form.version


def test_form_list_hash_is_md5_of_the_exact_bytes_served(collect, photo_form) -> None:
    entry = _xforms(collect.form_list())["collect_photos"]
    assert entry["downloadUrl"].startswith("http://localhost" + collect.server_path + "/forms/")
    download = collect.get(entry["downloadUrl"].replace("http://localhost", ""))
    assert download.status_code == 200
    assert "text/xml" in download.headers["Content-Type"]
    assert entry["hash"] == "md5:" + hashlib.md5(download.data).hexdigest()


def test_device_id_and_unknown_query_parameters_are_ignored(collect, photo_form) -> None:
    response = collect.get(f"{collect.server_path}/formList?foo=bar&deviceID=collect%3AAbC")
    assert response.status_code == 200
    assert "collect_photos" in _xforms(response)


def test_head_submission_answers_204_with_accepted_length(collect, services) -> None:
    response = collect.head()
    assert response.status_code == 204
    assert response.headers["X-OpenRosa-Accept-Content-Length"] == str(services.settings.max_upload_bytes)
    assert response.headers["X-OpenRosa-Version"] == "1.0"


def test_missing_openrosa_header_is_a_400_in_openrosa_format(client, collect) -> None:
    response = client.get(f"{collect.server_path}/formList")
    assert response.status_code == 400
    assert b"<OpenRosaResponse" in response.data and b"X-OpenRosa-Version" in response.data


def test_unknown_token_gets_403_without_a_login_challenge(client, project) -> None:
    response = client.get(
        f"/v1/key/not-a-token/projects/{project.id}/formList", headers={"X-OpenRosa-Version": "1.0"}
    )
    assert response.status_code == 403
    assert "WWW-Authenticate" not in response.headers
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert b"<message" in response.data


def test_revoked_token_gets_403(collect, services) -> None:
    from sqlalchemy import select

    from sync.access.accounts import revoke_app_user
    from sync.db.engine import transaction
    from sync.db.models import AppUser

    assert collect.form_list().status_code == 200  # the token is now remembered by this process ...
    with transaction(services.sessions) as session:
        revoke_app_user(session, session.scalars(select(AppUser)).one())
    assert collect.form_list().status_code == 403  # ... and revoking it here forgets it at once


def test_a_token_revoked_elsewhere_is_refused_within_the_cache_bound(collect, services) -> None:
    """Another process revoking a phone (the CLI, another HTTP process) is seen after CALLER_SECONDS at most."""
    import time

    from sqlalchemy import select, update

    from sync.access.accounts import app_user_for_token
    from sync.access.recall import CALLER_SECONDS
    from sync.access.recall import tokens as _tokens
    from sync.db.engine import transaction
    from sync.db.models import AppUser, utcnow

    assert collect.form_list().status_code == 200
    with transaction(services.sessions) as session:
        token = session.scalars(select(AppUser.token)).one()
        session.execute(update(AppUser).values(revoked_at=utcnow()))  # behind this process's back
    assert _tokens.get(token, time.monotonic()) is not None  # still remembered, for at most CALLER_SECONDS
    assert _tokens.get(token, time.monotonic() + CALLER_SECONDS) is None
    _tokens.forget(token)  # what CALLER_SECONDS passing does
    with services.sessions() as session:
        assert app_user_for_token(session, token) is None
    assert collect.form_list().status_code == 403


def test_a_new_area_is_read_again_at_once(collect, services) -> None:
    import time

    from sqlalchemy import select

    from sync.access.areas import set_area
    from sync.access.recall import tokens as _tokens
    from sync.db.engine import transaction
    from sync.db.models import AppUser

    assert collect.form_list().status_code == 200
    with transaction(services.sessions) as session:
        app_user = session.scalars(select(AppUser)).one()
        token = app_user.token
        set_area(session, app_user.id, "150102001001")
    assert _tokens.get(token, time.monotonic()) is None
    assert collect.form_list().status_code == 200
    assert _tokens.get(token, time.monotonic()).area == "150102001001"


def test_account_url_challenges_a_bare_request(client, project) -> None:
    response = client.get(f"/v1/projects/{project.id}/formList", headers={"X-OpenRosa-Version": "1.0"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    assert b"<OpenRosaResponse" in response.data


def test_closing_form_leaves_the_list_but_accepts_and_closed_refuses(collect, photo_form, services) -> None:
    from sync.db.engine import transaction
    from sync.intake.forms import get_form
    from sync.intake.publishing import set_form_state
    from tests.collect import submission_body

    def set_state(state: str) -> None:
        with transaction(services.sessions) as session:
            set_form_state(session, get_form(session, 1, "collect_photos"), state)

    set_state("closing")
    assert "collect_photos" not in _xforms(collect.form_list())
    assert collect.post(submission_body(photo_form.xml("uuid:c1", {"name": "a"}))).status_code == 201
    set_state("closed")
    refused = collect.post(submission_body(photo_form.xml("uuid:c2", {"name": "b"})))
    assert refused.status_code == 409
    assert b"not currently accepting submissions" in refused.data
