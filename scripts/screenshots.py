"""Screenshots of the review workspace for docs/review.md: the queue, a submission, the gallery, a household.

    .venv/bin/python scripts/screenshots.py            # writes docs/screenshots/*.png

A small county is made the way the tests make one (tests/web/workspace.py: baselines and appraisals posted
as Collect posts them, photos included, the queue run to empty), plus one photo reused for a second
household so the flag shows both photos. The server runs on 127.0.0.1 (waitress, as ``qingling serve``)
and Debian's Chromium takes the pictures in Chinese at a 10-inch tablet's landscape size; Chromium and the
CJK fonts are installed with apt-get first when missing (tests/web/browser.py).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forms.build import compile_xlsform, find_sources, media_file  # noqa: E402
from server.app import create_app  # noqa: E402
from server.config import load_settings  # noqa: E402
from server.services import build_services  # noqa: E402
from server.startup import prepare_database  # noqa: E402
from sync.db.engine import transaction  # noqa: E402
from sync.intake.projects import ensure_default_project  # noqa: E402
from sync.intake.publishing import publish_form  # noqa: E402
from tests.collect import COLLECT_HEADERS, DEVICE_ID, submission_body  # noqa: E402
from tests.conftest import LiveServer  # noqa: E402
from tests.media.photos import jpeg_bytes, scene  # noqa: E402
from tests.sync.survey import SurveyForms, appraisal  # noqa: E402
from tests.web.browser import ARGS, CHROMIUM, ensure_chromium  # noqa: E402
from tests.web.workspace import DAY, PASSWORD, build, create_accounts, email, settle  # noqa: E402

OUT = ROOT / "docs" / "screenshots"


class Phone:
    def __init__(self, client, path: str) -> None:  # noqa: ANN001
        self.client, self.path = client, path

    def post(self, multipart):  # noqa: ANN001, ANN201
        return self.client.post(f"{self.path}/submission?deviceID={DEVICE_ID}", data=multipart.body(),
                                content_type=multipart.content_type, headers=COLLECT_HEADERS)


def main() -> None:
    ensure_chromium()
    data = Path(tempfile.mkdtemp(prefix="qingling-shots-"))
    services = build_services(load_settings({}, data_dir=data, publish_forms_on_start=False))
    project = prepare_database(services, None)
    compiled = {form.form_id: (form, source) for source in find_sources() for form in [compile_xlsform(source)]}
    with transaction(services.sessions) as session:
        for form, source in compiled.values():
            publish_form(session, services.store, project, form, {n: media_file(n, source.parent) for n in form.media})
        token = ensure_default_project(session, services.settings.default_project_name)[1].token
    forms = SurveyForms({form_id: form for form_id, (form, _s) in compiled.items()})
    create_accounts(services, project.id)
    app = create_app(services=services)
    phone = Phone(app.test_client(), f"/v1/key/{token}/projects/{project.id}")
    county = build(phone, forms, services, per_village={"150121100203": 8, "150121100210": 6, "150121102205": 5})
    # The front photo of one house sent again for another household: the reused-photo flag.
    reused = jpeg_bytes(scene(seed=0), taken=datetime(2021, 5, 20, 10, 15), gps=(40.7, 111.2))
    other = county.households["150121100210"][4]
    xml = forms.xml("house_appraisal", appraisal(other, day=DAY, wall="d", ph_front="front-again.jpg"),
                    entity_id=other, base_version=1, instance_id="uuid:appraisal-reused")
    assert phone.post(submission_body(xml, {"front-again.jpg": reused})).status_code == 201
    settle(services)

    from playwright.sync_api import sync_playwright

    server = LiveServer(app)
    OUT.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            tab = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN").new_page()
            tab.goto(f"{server.url}/sign-in")
            tab.fill("input[name=email]", email("supervisor", "county"))
            tab.fill("input[name=password]", PASSWORD)
            tab.click("button[type=submit]")
            base = f"{server.url}/projects/{project.id}"
            tab.goto(f"{base}/submissions?form=house_appraisal")
            tab.screenshot(path=str(OUT / "queue.png"), full_page=False)
            tab.goto(f"{base}/forms/house_appraisal/submissions/uuid:appraisal-reused")
            tab.wait_for_load_state("networkidle")
            tab.screenshot(path=str(OUT / "submission.png"), full_page=True)
            household = tab.locator("a[href*='/households/']").first.get_attribute("href")
            tab.goto(f"{base}/photos?form=house_appraisal")
            tab.wait_for_load_state("networkidle")
            tab.screenshot(path=str(OUT / "gallery.png"), full_page=False)
            tab.goto(server.url + household)
            tab.wait_for_load_state("networkidle")
            tab.screenshot(path=str(OUT / "household.png"), full_page=True)
            browser.close()
    finally:
        server.stop()
        services.engine.dispose()
    print("\n".join(str(p.relative_to(ROOT)) for p in sorted(OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
