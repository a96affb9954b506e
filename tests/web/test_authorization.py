"""The authorization matrix: every role at every level of area against every page and ``/v1`` endpoint.

One table (RULES) says, for each endpoint of ``app.url_map``, how to call it, which permission it needs
and whether it concerns something in an area. The test derives the expected answer for every account
from it: refused (401/403) without the permission, not found (404) for a thing outside the account's
area, answered otherwise; and lists hold the township-A item exactly for accounts whose area covers it.
An endpoint added without a row here fails ``test_every_endpoint_has_a_rule``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import select

from sync.access.roles import allowed
from sync.db.engine import transaction
from sync.db.models import Flag, Household, LedgerItem, Submission
from sync.intake.drafts import replace_draft
from sync.intake.forms import get_form
from tests.collect import COLLECT_HEADERS
from tests.web.workspace import AREAS, PASSWORD, ROLES, VILLAGE_A, Workspace, basic, email


@dataclass(frozen=True)
class Target:
    """The things the URLs name: all in village A (township A, the county)."""

    project: int
    instance: str
    attachment: str
    household: str
    entity: str
    flag: int
    sha256: str
    token: str
    draft_token: str = ""  # house_appraisal's draft (a copy of its published version)
    other_draft_token: str = ""  # hh_baseline's draft: must reach nothing of house_appraisal's
    item: int = 0  # a ledger item of village A (the C or D appraisal of its first households)

    @property
    def submission(self) -> str:
        return f"/v1/projects/{self.project}/forms/house_appraisal/submissions/{quote(self.instance, safe='')}"


@dataclass(frozen=True)
class Rule:
    method: str
    url: Callable[[Target], str]
    permission: str | None  # None: open to anyone (or to any signed-in account, with ``signed_in``)
    client: str = "api"  # api (Basic auth), page (signed-in browser session), phone (app-user token), public,
    # draft (a test phone: the draft token in the path, nothing else)
    in_area: bool = False  # the URL names something in village A
    lists: Callable[[Target], str] | None = None  # a list: holds this text exactly when the area covers A
    body: dict | None = None
    signed_in: bool = False  # public pages that need only a signed-in account
    missing: bool = False  # names nothing that exists: allowed callers get 404, refused ones 403
    whole_project: bool = False  # only accounts of the whole project (no area) may: phones, server figures


V1 = "/v1/projects/{p}"
TEST = "/v1/test/{d}/projects/{p}/forms/house_appraisal/draft"
FORM = V1 + "/forms/house_appraisal"
ASSIGNMENT = {"measure": "housing_repair", "unit": "察素齐镇政府", "person": "李四", "deadline": "2030-06-30"}


def _forms(method: str, url: Callable[[Target], str], **options: object) -> Rule:
    """A call that changes a form, its draft or its state: form.manage over the whole project."""
    return Rule(method, url, "form.manage", whole_project=True, **options)  # type: ignore[arg-type]


def _p(template: str) -> Callable[[Target], str]:
    return lambda t: template.format(p=t.project, s=t.submission, h=t.household, e=t.entity, f=t.flag,
                                     a=quote(t.attachment), k=t.token, sha=t.sha256, d=t.draft_token,
                                     i=quote(t.instance, safe=""), l=t.item)


RULES: dict[str, Rule] = {
    # -- open to anyone -------------------------------------------------------------------------------
    "healthz": Rule("GET", _p("/healthz"), None, client="public"),
    "static": Rule("GET", _p("/static/app.css"), None, client="public"),
    "sessions.login": Rule("POST", _p("/v1/sessions"), None, client="public", body={"email": "x", "password": "y"}),
    "signin.home": Rule("GET", _p("/"), None, client="public"),
    "signin.sign_in": Rule("GET", _p("/sign-in"), None, client="public"),
    "signin.language": Rule("GET", _p("/language/en"), None, client="public"),
    # -- any named account ----------------------------------------------------------------------------
    "sessions.current_user": Rule("GET", _p("/v1/users/current"), None, signed_in=True),
    "signin.sign_out": Rule("POST", _p("/sign-out"), None, client="page", signed_in=True),
    "workspace.projects": Rule("GET", _p("/projects"), None, client="page", signed_in=True),
    # -- phones (app-user token in the path) ----------------------------------------------------------
    "openrosa_key.form_list": Rule("GET", _p("/v1/key/{k}/projects/{p}/formList"), "form.read", client="phone"),
    "openrosa_key.form_xml": Rule("GET", _p("/v1/key/{k}/projects/{p}/forms/house_appraisal.xml"), "form.read",
                                  client="phone"),
    "openrosa_key.manifest": Rule("GET", _p("/v1/key/{k}/projects/{p}/forms/house_appraisal/manifest"),
                                  "form.read", client="phone"),
    "openrosa_key.form_media": Rule("GET", _p("/v1/key/{k}/projects/{p}/forms/house_appraisal/attachments/"
                                              "admin.csv"), "form.read", client="phone"),
    "openrosa_key.submission_probe": Rule("HEAD", _p("/v1/key/{k}/projects/{p}/submission"), "submission.create",
                                          client="phone"),
    "openrosa_key.submission": Rule("POST", _p("/v1/key/{k}/projects/{p}/submission"), "submission.create",
                                    client="phone"),
    # -- test phones (a draft token in the path) --------------------------------------------------------
    "openrosa_draft.form_list": Rule("GET", _p(TEST + "/formList"), None, client="draft"),
    "openrosa_draft.draft_xml": Rule("GET", _p(TEST + ".xml"), None, client="draft"),
    "openrosa_draft.manifest": Rule("GET", _p(TEST + "/manifest"), None, client="draft"),
    "openrosa_draft.draft_media": Rule("GET", _p(TEST + "/attachments/admin.csv"), None, client="draft"),
    "openrosa_draft.submission_probe": Rule("HEAD", _p(TEST + "/submission"), None, client="draft"),
    "openrosa_draft.submission": Rule("POST", _p(TEST + "/submission"), None, client="draft"),
    # -- named accounts over OpenRosa -------------------------------------------------------------------
    "openrosa.form_list": Rule("GET", _p(V1 + "/formList"), "form.read"),
    "openrosa.form_xml": Rule("GET", _p(V1 + "/forms/house_appraisal.xml"), "form.read"),
    "openrosa.manifest": Rule("GET", _p(V1 + "/forms/house_appraisal/manifest"), "form.read"),
    "openrosa.form_media": Rule("GET", _p(V1 + "/forms/hh_baseline/attachments/households.csv"), "form.read",
                                lists=lambda t: t.entity),
    "openrosa.submission_probe": Rule("HEAD", _p(V1 + "/submission"), "submission.create"),
    "openrosa.submission": Rule("POST", _p(V1 + "/submission"), "submission.create"),
    # -- the Central API ------------------------------------------------------------------------------
    "api.projects": Rule("GET", _p("/v1/projects"), "submission.read"),
    "api.project": Rule("GET", _p(V1), "submission.read"),
    "api.form": Rule("GET", _p(V1 + "/forms/house_appraisal"), "submission.read"),
    "exports.csv_zip": Rule("GET", _p(V1 + "/forms/house_appraisal/submissions.csv.zip"), "submission.read"),
    "exports.csv_root": Rule("GET", _p(V1 + "/forms/house_appraisal/submissions.csv"), "submission.read",
                             lists=lambda t: t.instance),
    "odata.service": Rule("GET", _p(V1 + "/forms/house_appraisal.svc"), "submission.read"),
    "odata.metadata": Rule("GET", _p(V1 + "/forms/house_appraisal.svc/$metadata"), "submission.read"),
    "odata.entity_set": Rule("GET", _p(V1 + "/forms/house_appraisal.svc/Submissions"), "submission.read",
                             lists=lambda t: t.instance),
    "odata.dataset_service": Rule("GET", _p(V1 + "/datasets/households.svc"), "registry.read"),
    "odata.dataset_metadata": Rule("GET", _p(V1 + "/datasets/households.svc/$metadata"), "registry.read"),
    "odata.dataset_entities": Rule("GET", _p(V1 + "/datasets/households.svc/Entities"), "registry.read",
                                   lists=lambda t: t.entity),
    "registry.dataset": Rule("GET", _p(V1 + "/datasets/households"), "registry.read"),
    "api.forms": Rule("GET", _p(V1 + "/forms"), "submission.read"),
    "api.submissions": Rule("GET", _p(V1 + "/forms/house_appraisal/submissions"), "submission.read",
                            lists=lambda t: t.instance),
    "api.submission": Rule("GET", _p("{s}"), "submission.read", in_area=True),
    "api.review": Rule("PATCH", _p("{s}"), "submission.review", in_area=True, body={"reviewState": "hasIssues"}),
    "api.attachments": Rule("GET", _p("{s}/attachments"), "submission.read", in_area=True),
    "api.attachment": Rule("GET", _p("{s}/attachments/{a}"), "submission.read", in_area=True),
    "api.comments": Rule("GET", _p("{s}/comments"), "submission.read", in_area=True),
    "api.add_comment_view": Rule("POST", _p("{s}/comments"), "submission.review", in_area=True,
                                 body={"body": "见照片"}),
    "api.versions": Rule("GET", _p("{s}/versions"), "submission.read", in_area=True),
    "api.version": Rule("GET", _p("{s}/versions/{i}"), "submission.read", in_area=True),
    "api.version_attachments": Rule("GET", _p("{s}/versions/{i}/attachments"), "submission.read", in_area=True),
    "api.version_attachment": Rule("GET", _p("{s}/versions/{i}/attachments/{a}"), "submission.read",
                                   in_area=True),
    "api.diffs": Rule("GET", _p("{s}/diffs"), "submission.read", in_area=True),
    "api.submission_audits": Rule("GET", _p("{s}/audits"), "submission.read", in_area=True),
    "audits.api_audits": Rule("GET", _p("/v1/audits"), "audit.read"),
    "registry.clearance_view": Rule("GET", _p(V1 + "/registry/clearance?area=" + VILLAGE_A), "registry.read",
                                    in_area=True),
    "registry.households": Rule("GET", _p(V1 + "/registry/households"), "registry.read",
                                lists=lambda t: t.household),
    "registry.household": Rule("GET", _p(V1 + "/registry/households/{h}"), "registry.read", in_area=True),
    "registry.flags": Rule("GET", _p(V1 + "/flags"), "registry.read", lists=lambda t: f'"id":{t.flag},'),
    "registry.update_flag": Rule("PATCH", _p(V1 + "/flags/{f}"), "submission.review", in_area=True,
                                 body={"state": "open"}),
    "registry.datasets": Rule("GET", _p(V1 + "/datasets"), "registry.read"),
    "registry.entities": Rule("GET", _p(V1 + "/datasets/households/entities"), "registry.read",
                              lists=lambda t: t.entity),
    "registry.entity": Rule("GET", _p(V1 + "/datasets/households/entities/{e}"), "registry.read", in_area=True),
    "registry.entity_versions_view": Rule("GET", _p(V1 + "/datasets/households/entities/{e}/versions"),
                                          "registry.read", in_area=True),
    "exports.xlsx": Rule("GET", _p(V1 + "/forms/house_appraisal/submissions.xlsx"), "submission.read"),
    "exports.parquet": Rule("GET", _p(V1 + "/forms/house_appraisal/submissions.parquet"), "submission.read"),
    "registry_export.xlsx": Rule("GET", _p(V1 + "/registry/export.xlsx"), "registry.read"),
    "registry_export.csv_zip": Rule("GET", _p(V1 + "/registry/export.zip"), "registry.read"),
    "registry_export.parquet_zip": Rule("GET", _p(V1 + "/registry/export.parquet.zip"), "registry.read"),
    "app_users.list_app_users": Rule("GET", _p(V1 + "/app-users"), "admin", whole_project=True),
    "app_users.create": Rule("POST", _p(V1 + "/app-users"), "admin", whole_project=True,
                             body={"displayName": "调查员", "area": VILLAGE_A}),
    "app_users.change_area": Rule("PATCH", _p(V1 + "/app-users/999"), "admin", whole_project=True, missing=True,
                                  body={"area": VILLAGE_A}),
    "app_users.revoke": Rule("DELETE", _p(V1 + "/app-users/999"), "admin", whole_project=True, missing=True),
    # Central's forms API: reading versions is for readers, changing forms (_forms) for form.manage over the whole
    # project, as a form is the project's and not an area's. Calls that would change what later rows read name a
    # missing form or file instead.
    "forms_api.create": _forms("POST", _p(V1 + "/forms"), body={"not": "a form"}),
    "forms_api.update": _forms("PATCH", _p(FORM), body={"state": "open"}),
    "forms_api.versions": Rule("GET", _p(FORM + "/versions"), "submission.read"),
    "forms_api.spreadsheet": Rule("GET", _p(FORM + ".xlsx"), "submission.read", missing=True),  # came from the CLI
    "forms_api.set_draft": _forms("POST", _p(V1 + "/forms/no_such_form/draft"), missing=True),
    "forms_api.draft": _forms("GET", _p(FORM + "/draft")),
    "forms_api.draft_xml": _forms("GET", _p(FORM + "/draft.xml")),
    "forms_api.draft_attachments": _forms("GET", _p(FORM + "/draft/attachments")),
    "forms_api.upload_attachment": _forms("POST", _p(FORM + "/draft/attachments/no_such.csv"), missing=True),
    "forms_api.publish": _forms("POST", _p(FORM + "/draft/publish")),  # 409: that version exists
    "forms_api.delete_draft": _forms("DELETE", _p(V1 + "/forms/no_such_form/draft"), missing=True),
    "metrics.metrics": Rule("GET", _p("/metrics"), "admin", whole_project=True),
    # -- pages ----------------------------------------------------------------------------------------
    "workspace.project": Rule("GET", _p("/projects/{p}"), "form.read", client="page"),
    "review.queue": Rule("GET", _p("/projects/{p}/submissions?form=house_appraisal"), "submission.read",
                         client="page", lists=lambda t: f'data-instance="{t.instance}"'),
    "review.submission": Rule("GET", _p("/projects/{p}/forms/house_appraisal/submissions/{i}"), "submission.read",
                              client="page", in_area=True),
    "review.decide": Rule("POST", _p("/projects/{p}/forms/house_appraisal/submissions/{i}/review"),
                          "submission.review", client="page", in_area=True, body={"state": "hasIssues"}),
    "review.comment": Rule("POST", _p("/projects/{p}/forms/house_appraisal/submissions/{i}/comments"),
                           "submission.review", client="page", in_area=True, body={"body": "见照片"}),
    "review.bulk": Rule("POST", _p("/projects/{p}/submissions/review"), "submission.review", client="page",
                        body={"state": "hasIssues", "all": "1", "query": "form=house_appraisal"}),
    "gallery.gallery": Rule("GET", _p("/projects/{p}/photos?form=house_appraisal"), "submission.read",
                            client="page", lists=lambda t: f"/photos/{t.sha256}/256"),
    "households.index": Rule("GET", _p("/projects/{p}/households"), "registry.read", client="page",
                             lists=lambda t: f'data-household="{t.household}"'),
    "households.household": Rule("GET", _p("/projects/{p}/households/{h}"), "registry.read", client="page",
                                 in_area=True),
    "households.flag": Rule("POST", _p("/projects/{p}/flags/{f}"), "submission.review", client="page",
                            in_area=True, body={"state": "open"}),
    "audits.index": Rule("GET", _p("/projects/{p}/audits"), "audit.read", client="page"),
    "admin.accounts": Rule("GET", _p("/projects/{p}/accounts"), "admin", client="page"),
    "admin.create_account": Rule("POST", _p("/projects/{p}/accounts"), "admin", client="page",
                                 body={"email": "new@county.example", "password": "0123456789", "role": "viewer"}),
    "admin.change_account": Rule("POST", _p("/projects/{p}/accounts/1"), "admin", client="page",
                                 body={"action": "membership", "role": "admin", "area": ""}),
    "admin.app_users": Rule("GET", _p("/projects/{p}/app-users"), "admin", client="page"),
    "admin.create_phone": Rule("POST", _p("/projects/{p}/app-users"), "admin", client="page",
                               body={"name": "调查员"}),
    "admin.revoke_phone": Rule("POST", _p("/projects/{p}/app-users/999/revoke"), "admin", client="page",
                               missing=True),
    "admin.forms": Rule("GET", _p("/projects/{p}/forms"), "admin", client="page"),
    "admin.change_form": Rule("POST", _p("/projects/{p}/forms/house_appraisal"), "admin", client="page",
                              body={"state": "open"}, whole_project=True),
    "form_design.upload_page": _forms("GET", _p("/projects/{p}/form-upload"), client="page"),
    "form_design.upload": _forms("POST", _p("/projects/{p}/form-upload"), client="page"),  # no file
    "form_design.draft": _forms("GET", _p("/projects/{p}/form-upload/house_appraisal"), client="page"),
    "form_design.upload_media": _forms("POST", _p("/projects/{p}/form-upload/house_appraisal/media/admin.csv"),
                                       client="page"),  # no file: 400
    # refused (the version exists), back to the draft
    "form_design.publish": _forms("POST", _p("/projects/{p}/form-upload/house_appraisal/publish"), client="page"),
    "form_design.preview": _forms("GET", _p("/projects/{p}/form-upload/house_appraisal/preview"), client="page"),
    "form_design.try_form": _forms("GET", _p("/projects/{p}/form-upload/house_appraisal/try"), client="page"),
    "form_design.try_xml": _forms("GET", _p("/projects/{p}/form-upload/house_appraisal/try/form.xml"), client="page"),
    "form_design.try_media": _forms("GET", _p("/projects/{p}/form-upload/house_appraisal/try/media/admin.csv"),
                                    client="page"),
    "photos.original": Rule("GET", _p("/projects/{p}/photos/{sha}"), "submission.read", client="page",
                            in_area=True),
    "ledger_pages.dashboard": Rule("GET", _p("/projects/{p}/ledger"), "ledger.read", client="page"),
    "ledger_pages.items": Rule("GET", _p("/projects/{p}/ledger/list"), "ledger.read", client="page",
                               lists=lambda t: f'data-item="{t.item}"'),
    "ledger_pages.map_page": Rule("GET", _p("/projects/{p}/ledger/map"), "ledger.read", client="page",
                                  lists=lambda t: f'data-household="{t.household}"'),
    "ledger_pages.unknown": Rule("GET", _p("/projects/{p}/ledger/unknown"), "ledger.read", client="page"),
    "ledger_pages.item": Rule("GET", _p("/projects/{p}/ledger/items/{l}"), "ledger.read", client="page",
                              in_area=True),
    "ledger_pages.assign": Rule("POST", _p("/projects/{p}/ledger/items/{l}/assignment"), "ledger.assign",
                                client="page", in_area=True, body=ASSIGNMENT),
    "ledger_pages.done": Rule("POST", _p("/projects/{p}/ledger/items/{l}/done"), "ledger.assign", client="page",
                              in_area=True, body={"note": "已完工"}),
    "ledger_pages.close_request": Rule("POST", _p("/projects/{p}/ledger/items/{l}/close-request"), "ledger.assign",
                                       client="page", in_area=True, body={"reason": "已搬迁"}),
    "ledger_pages.close_approval": Rule("POST", _p("/projects/{p}/ledger/items/{l}/close-approval"),
                                        "ledger.approve", client="page", in_area=True),
    "ledger_pages.parameter_tables": Rule("GET", _p("/projects/{p}/ledger/parameters"), "parameters.manage",
                                          client="page", whole_project=True),
    "ledger_pages.upload_parameters": Rule("POST", _p("/projects/{p}/ledger/parameters"), "parameters.manage",
                                           client="page", whole_project=True),
    "ledger_pages.parameter_version": Rule("GET", _p("/projects/{p}/ledger/parameters/999"), "parameters.manage",
                                           client="page", whole_project=True, missing=True),
    "ledger_pages.apply_parameters": Rule("POST", _p("/projects/{p}/ledger/parameters/999/apply"),
                                          "parameters.manage", client="page", whole_project=True, missing=True),
    "ledger_pages.export": Rule("GET", _p("/projects/{p}/ledger/export.xlsx"), "ledger.read", client="page"),
    # -- the ledger's JSON API (decisions before the approval that closes the item; later ones are 409) ----------
    "ledger.items": Rule("GET", _p(V1 + "/ledger/items"), "ledger.read", lists=lambda t: f'"id":{t.item},'),
    "ledger.item": Rule("GET", _p(V1 + "/ledger/items/{l}"), "ledger.read", in_area=True),
    "ledger.assign": Rule("PUT", _p(V1 + "/ledger/items/{l}/assignment"), "ledger.assign", in_area=True,
                          body=ASSIGNMENT),
    "ledger.done": Rule("POST", _p(V1 + "/ledger/items/{l}/done"), "ledger.assign", in_area=True,
                        body={"note": "已完工"}),
    "ledger.close_request": Rule("POST", _p(V1 + "/ledger/items/{l}/close-request"), "ledger.assign", in_area=True,
                                 body={"reason": "已搬迁"}),
    "ledger.close_approval": Rule("POST", _p(V1 + "/ledger/items/{l}/close-approval"), "ledger.approve",
                                  in_area=True),
    "ledger.summary": Rule("GET", _p(V1 + "/ledger/summary"), "ledger.read"),
    "ledger.measures": Rule("GET", _p(V1 + "/ledger/measures"), "ledger.read"),
    "ledger.save_measure": Rule("PUT", _p(V1 + "/ledger/measures/housing_repair"), "parameters.manage",
                                whole_project=True, body={"kind": "housing", "labelZh": "危房改造(维修加固)",
                                                          "labelEn": "Dangerous-house repair"}),
    "ledger.export": Rule("GET", _p(V1 + "/ledger/export.xlsx"), "ledger.read"),
    "ledger.parameter_versions": Rule("GET", _p(V1 + "/ledger/parameters"), "parameters.manage"),
    "ledger.upload_parameters": Rule("POST", _p(V1 + "/ledger/parameters"), "parameters.manage", whole_project=True),
    "ledger.preview_parameters": Rule("GET", _p(V1 + "/ledger/parameters/999/preview"), "parameters.manage",
                                      missing=True),
    "ledger.apply_parameters": Rule("POST", _p(V1 + "/ledger/parameters/999/apply"), "parameters.manage",
                                    whole_project=True, missing=True),
    "photos.thumbnail": Rule("GET", _p("/projects/{p}/photos/{sha}/256"), "submission.read", client="page",
                             in_area=True),
}


# Every endpoint has its row (the ledger's came last); the tuple stays so that a blueprint merged without
# rows can be listed here by name while its rows are written, and fails once it stops existing.
NOT_YET_IN_THE_MATRIX: tuple[str, ...] = ()


def test_every_endpoint_has_a_rule(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    pending = {e for e in endpoints if e.startswith(NOT_YET_IN_THE_MATRIX)}
    assert sorted(endpoints - set(RULES) - pending) == [], "endpoints without a row in the authorization matrix"
    assert sorted(set(RULES) - endpoints) == [], "rows for endpoints that no longer exist"
    assert all(any(e.startswith(prefix) for e in pending) for prefix in NOT_YET_IN_THE_MATRIX)


@pytest.fixture
def target(small_county: Workspace, services, project, app_token) -> Target:  # noqa: ANN001
    instance = next(i for i in small_county.photo if VILLAGE_A in i)
    with transaction(services.sessions) as session:
        submission = session.scalar(select(Submission).where(Submission.instance_id == instance))
        assert submission.village == VILLAGE_A
        household = session.scalar(select(Household).where(Household.code == submission.household_code))
        flag = session.scalar(select(Flag).where(Flag.household_code.like(f"{VILLAGE_A}%")).order_by(Flag.id))
        if flag is None:  # every test county has a flag in village A; make sure of it
            raise AssertionError("no flag in village A")
        sha = submission.versions[-1].attachments[0].sha256
        drafts = [replace_draft(session, services.store, get_form(session, project.id, form_id), None, None)
                  for form_id in ("house_appraisal", "hh_baseline")]
        item = session.scalar(select(LedgerItem.id).where(LedgerItem.village == VILLAGE_A).order_by(LedgerItem.id))
        return Target(project.id, instance, small_county.photo[instance], household.code, household.entity_id,
                      flag.id, sha, app_token, drafts[0].draft_token, drafts[1].draft_token, item)


def _page_client(app: Flask, role: str, key: str):  # noqa: ANN202
    client = app.test_client()
    signed = client.post("/sign-in", data={"email": email(role, key), "password": PASSWORD,
                                           "csrf_token": _csrf(client)})
    assert signed.status_code == 302, signed.data
    return client


def _csrf(client) -> str:  # noqa: ANN001
    page = client.get("/sign-in").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def _call(client, rule: Rule, target: Target, headers: dict | None = None):  # noqa: ANN001, ANN202
    url = rule.url(target)
    headers = dict(headers or {})
    collect_like = url.endswith(("/formList", "/manifest", ".xml", "/submission")) or "/attachments/" in url \
        and "/forms/" in url and "/submissions/" not in url
    if rule.client in ("phone", "draft") or collect_like:
        headers.update(COLLECT_HEADERS)
    data = None
    if rule.client == "page" and rule.method == "POST":
        data = {"csrf_token": _csrf(client), **(rule.body or {})}
        return client.open(url, method=rule.method, data=data, headers=headers)
    return client.open(url, method=rule.method, json=rule.body, headers=headers)


def _expected(rule: Rule, role: str, area: str) -> str:
    if rule.permission is not None and not allowed(role, rule.permission):
        return "refused"
    if rule.whole_project and area:
        return "refused"
    if rule.missing:
        return "not found"
    if rule.in_area and area not in ("", VILLAGE_A[: len(area)]):
        return "not found"
    return "answered"


def _outcome(status: int) -> str:
    if status in (401, 403):
        return "refused"
    if status == 404:
        return "not found"
    return "answered"


def test_the_matrix(app: Flask, target: Target) -> None:
    failures = []
    for endpoint, rule in RULES.items():
        if rule.client == "public":
            response = _call(app.test_client(), rule, target)
            response.close()
            if response.status_code >= 500 or _outcome(response.status_code) != "answered" and endpoint != \
                    "sessions.login":
                failures.append(f"{endpoint}: anonymous got {response.status_code}")
            continue
        if rule.client == "draft":
            good = _call(app.test_client(), rule, target)
            others = [_call(app.test_client(), rule, Target(**{**target.__dict__, "draft_token": token}))
                      for token in (target.other_draft_token, target.token, "unknown-token")]
            if _outcome(good.status_code) != "answered" or [o.status_code for o in others] != [404] * 3:
                failures.append(f"{endpoint}: draft token {good.status_code}, others {[o.status_code for o in others]}")
            continue
        if rule.client == "phone":
            good = _call(app.test_client(), rule, target)
            bad = _call(app.test_client(), rule, Target(**{**target.__dict__, "token": "unknown-token"}))
            if _outcome(good.status_code) != "answered" or bad.status_code != 403:
                failures.append(f"{endpoint}: phone {good.status_code}, unknown token {bad.status_code}")
            continue
        anonymous = _call(app.test_client(), rule, target)
        if rule.client == "page":
            if not (anonymous.status_code == 302 and "/sign-in" in anonymous.location) and anonymous.status_code \
                    != 400:
                failures.append(f"{endpoint}: anonymous got {anonymous.status_code}")
        elif anonymous.status_code != 401:
            failures.append(f"{endpoint}: anonymous got {anonymous.status_code}")
        for role in ROLES:
            for key, area in AREAS.items():
                if rule.client == "page":
                    response = _call(_page_client(app, role, key), rule, target)
                else:
                    response = _call(app.test_client(), rule, target, basic(role, key))
                expected = "answered" if rule.signed_in else _expected(rule, role, area)
                got = _outcome(response.status_code)
                text = response.get_data().decode("utf-8", "replace")
                response.close()
                if response.status_code >= 500 or got != expected:
                    failures.append(f"{endpoint} as {role} of {key}: expected {expected}, got {response.status_code}")
                    continue
                if rule.lists is not None and got == "answered":
                    covers = area in ("", VILLAGE_A[: len(area)])
                    listed = rule.lists(target) in text
                    if listed != covers:
                        failures.append(f"{endpoint} as {role} of {key}: lists the village-A item: {listed}")
    assert failures == [], "\n".join(failures)
