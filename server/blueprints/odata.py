"""OData v4 in ODK Central's URLs: ``.../forms/{id}.svc``, ``$metadata``, ``Submissions`` and repeat sets,
and the registry's entity list as ``.../datasets/households.svc`` with its ``Entities``.

Excel's and Power BI's OData connectors and pyodk's ``get_table`` send HTTP Basic up front; that is the
ordinary account authentication (over HTTPS, or plain HTTP behind the trusted proxy). Unknown
``$``-options are answered 501 as Central answers them; every response says ``OData-Version: 4.0``.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

from flask import Blueprint, Response, jsonify, request

from server.auth import require
from server.context import db, services
from server.scope import export_area
from sync.errors import NotFound
from sync.exports import entity_odata, odata
from sync.exports.source import build_query
from sync.intake.forms import published_form

bp = Blueprint("odata", __name__)
_ENTITY = re.compile(r"^Submissions\('(?P<id>[^']+)'\)(?:/(?P<nav>.+))?$")


@bp.after_request
def odata_version(response: Response) -> Response:
    response.headers["OData-Version"] = "4.0"
    return response


def _base(project_id: int, xml_form_id: str) -> str:
    return f"{request.host_url.rstrip('/')}/v1/projects/{project_id}/forms/{quote(xml_form_id, safe='')}.svc"


def _prepare(project_id: int, xml_form_id: str):  # noqa: ANN202
    actor = require("submission.read", project_id, None)
    params = dict(request.args.items())
    area = export_area(actor, params.pop("area", None))
    odata.check_options(params)
    session = db()
    form = published_form(session, project_id, xml_form_id)
    query = build_query(session, form, filter_text=params.get("$filter"), area=area)
    return query, params


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>.svc")
@bp.get("/projects/<int:project_id>/forms/<xml_form_id>.svc/")
def service(project_id: int, xml_form_id: str) -> Response:
    query, _params = _prepare(project_id, xml_form_id)
    return jsonify(odata.service_document(_base(project_id, xml_form_id), query.schema))


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>.svc/$metadata")
def metadata(project_id: int, xml_form_id: str) -> Response:
    query, _params = _prepare(project_id, xml_form_id)
    return Response(odata.metadata(query.schema, xml_form_id), content_type="application/xml")


@bp.get("/projects/<int:project_id>/forms/<xml_form_id>.svc/<path:resource>")
def entity_set(project_id: int, xml_form_id: str, resource: str) -> Response:
    query, params = _prepare(project_id, xml_form_id)
    options = odata.feed_options(params)
    name = resource
    single = _ENTITY.match(unquote(resource))
    if single is not None:
        query.instance_id = single.group("id")
        nav = single.group("nav")
        name = ".".join(("Submissions", *nav.split("/"))) if nav else "Submissions"
        if not odata.exists(services().engine, query):
            raise NotFound(f"Could not find the submission '{query.instance_id}'.")
    table = odata.find_table(query.schema, name)
    body = odata.feed(services().engine, query, table, options, _base(project_id, xml_form_id), params)
    return Response(body, content_type="application/json; charset=utf-8")


def _dataset_base(project_id: int, name: str) -> str:
    return f"{request.host_url.rstrip('/')}/v1/projects/{project_id}/datasets/{quote(name, safe='')}.svc"


def _dataset_query(project_id: int, name: str) -> tuple[entity_odata.EntityQuery, dict[str, str]]:
    """The entity feed's checks, as the entity listing's: registry access, the dataset, the caller's area."""
    actor = require("registry.read", project_id, None)
    entity_odata.check_dataset(name)
    params = dict(request.args.items())
    area = export_area(actor, params.pop("area", None))
    return entity_odata.build_query(project_id, params, area), params


@bp.get("/projects/<int:project_id>/datasets/<name>.svc")
@bp.get("/projects/<int:project_id>/datasets/<name>.svc/")
def dataset_service(project_id: int, name: str) -> Response:
    _dataset_query(project_id, name)
    response = jsonify(entity_odata.service_document(_dataset_base(project_id, name)))
    response.content_type = "application/json; odata.metadata=minimal"
    return response


@bp.get("/projects/<int:project_id>/datasets/<name>.svc/$metadata")
def dataset_metadata(project_id: int, name: str) -> Response:
    _dataset_query(project_id, name)
    return Response(entity_odata.metadata(name), content_type="application/xml")


@bp.get("/projects/<int:project_id>/datasets/<name>.svc/Entities")
def dataset_entities(project_id: int, name: str) -> Response:
    query, params = _dataset_query(project_id, name)
    body = entity_odata.feed(services().engine, query, _dataset_base(project_id, name), params)
    return Response(body, content_type="application/json; charset=utf-8")
