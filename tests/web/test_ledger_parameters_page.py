"""The parameter tables page with Flask's client, on both databases: a broken CSV shows its row errors and
keeps nothing, a good one shows the households it moves across the line, applying it re-judges the
ledger; only an administrator of the whole project may use it."""

from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from sync.db.models import LedgerItem, ParameterVersion
from tests.sync.survey import COUNTY
from tests.web.test_queue import csrf, signed_in
from tests.web.workspace import Workspace, settle

HEADER = "province,county,year,profile,name,value,version,tag,note\n"


def upload(client, project_id: int, text: str):  # noqa: ANN001, ANN201
    url = f"/projects/{project_id}/ledger/parameters"
    return client.post(url, data={"csrf_token": csrf(client, url), "table": (io.BytesIO(text.encode()), "county.csv")},
                       content_type="multipart/form-data")  # fmt: skip


def test_upload_preview_and_apply_a_parameter_table(app, small_county: Workspace, project, services) -> None:  # noqa: ANN001
    admin = signed_in(app, "admin", "project")
    broken = upload(admin, project.id, HEADER + "15,150121,2021,,monitor_line_locl,6500,2026.1,G,typo\n")
    assert broken.status_code == 400
    assert "monitor_line_locl" in broken.get_data(as_text=True) and "line 2" in broken.get_data(as_text=True)
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ParameterVersion)) == 0
    # small_county has no income checks: a raised line moves nobody, and the page says so.
    uploaded = upload(admin, project.id, HEADER + f"15,{COUNTY},2021,,water_basic_is_problem,1,2026.1,P,county\n")
    assert uploaded.status_code == 302
    shown = admin.get(uploaded.location)
    assert shown.status_code == 200 and 'class="apply"' in shown.get_data(as_text=True)
    version = int(re.search(r"/parameters/(\d+)", uploaded.location).group(1))
    applied = admin.post(f"{uploaded.location}/apply", data={"csrf_token": csrf(admin, uploaded.location)})
    assert applied.status_code == 302
    with services.sessions() as session:
        assert session.get(ParameterVersion, version).state == "applied"
        assert session.scalar(select(func.count()).select_from(LedgerItem).where(LedgerItem.kind == "housing")) == 6
    settle(services)
    for role, key in (("admin", "township_a"), ("manager", "county"), ("supervisor", "project")):
        assert signed_in(app, role, key).get(f"/projects/{project.id}/ledger/parameters").status_code == 403, role
