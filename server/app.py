"""The Flask application factory."""

from __future__ import annotations

import logging

from flask import Flask, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from server.config import Settings, load_settings
from server.context import close_db
from server.errors import register_error_handlers
from server.routing import DatabaseId, RawPath, Segment
from server.security_headers import add_security_headers
from server.services import Services, build_services
from server.uploads import SpoolingRequest
from sync.errors import BadRequest, NotFound


def create_app(settings: Settings | None = None, services: Services | None = None) -> Flask:
    settings = settings or (services.settings if services else load_settings())
    services = services or build_services(settings)
    app = Flask(__name__)
    app.request_class = SpoolingRequest
    app.config.update(
        SECRET_KEY=services.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        JSON_SORT_KEYS=False,
    )
    app.extensions["qingling"] = services
    # Before any route is added: every route's ids and segments use these (server/routing.py).
    app.url_map.converters.update(int=DatabaseId, default=Segment, string=Segment)
    app.wsgi_app = RawPath(app.wsgi_app)  # type: ignore[method-assign]
    if settings.trust_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    logging.getLogger("qingling").setLevel(settings.log_level.upper())

    from server import i18n, metrics, web
    from server.blueprints import (
        admin,
        api,
        app_users,
        audits,
        draft_test,
        exports,
        form_design,
        forms_api,
        gallery,
        households,
        ledger,
        ledger_pages,
        odata,
        openrosa,
        photos,
        registry,
        registry_export,
        review,
        sessions,
        signin,
        workspace,
    )

    # Phones use the token prefix; named accounts use plain /v1 (docs/protocol.md §10).
    app.register_blueprint(openrosa.bp, url_prefix="/v1/key/<token>", name="openrosa_key")
    app.register_blueprint(openrosa.bp, url_prefix="/v1", name="openrosa")
    app.register_blueprint(draft_test.bp, url_prefix="/v1/test/<token>")
    app.register_blueprint(api.bp, url_prefix="/v1")
    app.register_blueprint(forms_api.bp, url_prefix="/v1")
    app.register_blueprint(exports.bp, url_prefix="/v1")
    app.register_blueprint(odata.bp, url_prefix="/v1")
    app.register_blueprint(registry.bp, url_prefix="/v1")
    app.register_blueprint(registry_export.bp, url_prefix="/v1")
    app.register_blueprint(ledger.bp, url_prefix="/v1")
    app.register_blueprint(sessions.bp, url_prefix="/v1")
    app.register_blueprint(app_users.bp, url_prefix="/v1")
    app.register_blueprint(metrics.bp)
    # The review workspace: pages for people, signed in with a session cookie (docs/review.md).
    i18n.init_app(app)
    web.init_app(app)
    app.register_blueprint(signin.bp)
    app.register_blueprint(workspace.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(photos.bp)
    app.register_blueprint(gallery.bp)
    app.register_blueprint(households.bp)
    app.register_blueprint(ledger_pages.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(form_design.bp)
    app.register_blueprint(audits.bp)
    register_error_handlers(app)

    @app.before_request
    def spool_into_data_dir() -> None:
        request.environ["qingling.tmp_dir"] = str(settings.tmp_dir)

    @app.before_request
    def refuse_nul() -> None:
        """No name or value the server keeps can contain NUL, and PostgreSQL refuses it in any text."""
        if "\x00" in request.path:
            raise NotFound("There is nothing here: the URL contains a NUL character.")
        if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
            raise BadRequest("The query string contains a NUL character.")

    app.after_request(add_security_headers)

    @app.teardown_request
    def cleanup(exc: BaseException | None) -> None:
        for spool in request.environ.get("qingling.spools", []):
            spool.discard()
        close_db(exc)
        g.pop("actor", None)

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok"}

    return app
