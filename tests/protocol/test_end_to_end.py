"""A phone's whole day over real HTTP: list, download, manifest, HEAD, POST with a photo; then a restart."""

from __future__ import annotations

import hashlib

import requests
from lxml import etree

from server.app import create_app
from server.services import build_services
from tests.collect import COLLECT_HEADERS, DEVICE_ID, submission_body
from tests.conftest import DATA, LiveServer
from tests.images import jpeg_bytes
from tests.protocol.conftest import publish

NS = {"x": "http://openrosa.org/xforms/xformsList", "m": "http://openrosa.org/xforms/xformsManifest"}


def _get(url: str) -> requests.Response:
    separator = "&" if "?" in url else "?"
    return requests.get(f"{url}{separator}deviceID={DEVICE_ID}", headers=COLLECT_HEADERS, timeout=10)


def test_collect_round_trip_survives_a_restart(services, project, app_token, live_server, settings) -> None:
    form = publish(services, project, DATA / "forms" / "village_visit.md")
    server_url = f"{live_server.url}/v1/key/{app_token}/projects/{project.id}"

    listing = _get(f"{server_url}/formList")
    assert listing.status_code == 200 and "text/xml" in listing.headers["Content-Type"]
    (xform,) = etree.fromstring(listing.content).findall("x:xform", NS)
    download = _get(xform.findtext("x:downloadUrl", namespaces=NS))
    assert xform.findtext("x:hash", namespaces=NS) == "md5:" + hashlib.md5(download.content).hexdigest()

    manifest = _get(xform.findtext("x:manifestUrl", namespaces=NS))
    assert manifest.status_code == 200 and "text/xml" in manifest.headers["Content-Type"]
    (media,) = etree.fromstring(manifest.content).findall("m:mediaFile", NS)
    assert media.findtext("m:filename", namespaces=NS) == "villages.csv"
    csv = _get(media.findtext("m:downloadUrl", namespaces=NS))
    assert csv.content == (DATA / "forms" / "villages.csv").read_bytes()
    assert media.findtext("m:hash", namespaces=NS) == "md5:" + hashlib.md5(csv.content).hexdigest()

    head = requests.head(f"{server_url}/submission?deviceID={DEVICE_ID}", headers=COLLECT_HEADERS, timeout=10)
    assert head.status_code == 204
    assert int(head.headers["X-OpenRosa-Accept-Content-Length"]) == settings.max_upload_bytes

    photo = jpeg_bytes(42, (1024, 768))
    xml = form.xml("uuid:e2e-1", {"village": "150102001001", "name": "李强", "house": "1714550000000.jpg"})
    body = submission_body(xml, {"1714550000000.jpg": photo})
    posted = requests.post(
        f"{server_url}/submission?deviceID={DEVICE_ID}",
        data=body.body(),
        headers={**COLLECT_HEADERS, "Content-Type": body.content_type},
        timeout=10,
    )
    assert posted.status_code == 201, posted.text
    assert b"OpenRosaResponse" in posted.content

    # Restart: a new process state on the same data directory finds everything, byte for byte.
    live_server.stop()
    services.engine.dispose()
    restarted = build_services(settings)
    from sync.access.accounts import create_user
    from sync.db.engine import transaction

    with transaction(restarted.sessions) as session:
        create_user(session, "county@example.org", "correct horse battery", "viewer")
    server = LiveServer(create_app(services=restarted))
    try:
        auth = ("county@example.org", "correct horse battery")
        base = f"{server.url}/v1/projects/{project.id}/forms/village_visit/submissions"
        listed = requests.get(base, auth=auth, timeout=10).json()
        assert [s["instanceId"] for s in listed] == ["uuid:e2e-1"]
        assert requests.get(f"{base}/uuid:e2e-1.xml", auth=auth, timeout=10).content == xml
        attachments = requests.get(f"{base}/uuid:e2e-1/attachments", auth=auth, timeout=10).json()
        assert attachments == [{"name": "1714550000000.jpg", "exists": True}]
        stored = requests.get(f"{base}/uuid:e2e-1/attachments/1714550000000.jpg", auth=auth, timeout=10)
        assert stored.content == photo
    finally:
        server.stop()
        restarted.engine.dispose()
