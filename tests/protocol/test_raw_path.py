"""An instanceID with ``/`` in it has working API URLs: routing follows the raw path, as pyodk encodes ids.

waitress hands the app ``PATH_INFO`` with ``%2F`` already decoded, so ``uuid:a/b`` (sent as
``uuid%3Aa%2Fb``) split into two segments and every URL of such a submission was a 404.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from tests.collect import submission_body
from tests.images import jpeg_bytes

ODD_IDS = ["uuid:a/b", "uuid:a%2Fb", "uuid:100%", "uuid:x/../y", "uuid:名字/二"]


@pytest.mark.parametrize("instance_id", ODD_IDS)
def test_submission_urls_work_for_ids_with_slashes_through_waitress(
    collect, photo_form, supervisor, live_server, instance_id: str
) -> None:
    xml = photo_form.xml(instance_id, {"name": "a", "photo": "p.jpg"})
    assert collect.post(submission_body(xml, {"p.jpg": jpeg_bytes(3)})).status_code == 201
    base = f"{live_server.url}/v1/projects/1/forms/{photo_form.form_id}/submissions/{quote(instance_id, safe='')}"
    auth = ("supervisor@county.example", "correct horse battery")
    with requests.Session() as http:
        one = http.get(base, auth=auth, timeout=30)
        assert one.status_code == 200, one.text
        assert one.json()["instanceId"] == instance_id
        assert http.get(f"{base}.xml", auth=auth, timeout=30).content == xml
        assert http.get(f"{base}/attachments", auth=auth, timeout=30).json() == [{"name": "p.jpg", "exists": True}]
        assert http.get(f"{base}/attachments/p.jpg", auth=auth, timeout=30).content == jpeg_bytes(3)


def test_the_test_client_routes_the_same_way(client, collect, photo_form, supervisor) -> None:
    assert collect.post(submission_body(photo_form.xml("uuid:c/d", {"name": "a"}))).status_code == 201
    url = f"/v1/projects/1/forms/{photo_form.form_id}/submissions/uuid%3Ac%2Fd"
    assert client.get(url, headers=supervisor).get_json()["instanceId"] == "uuid:c/d"
    assert client.get(url.replace("%2F", "/"), headers=supervisor).status_code == 404
