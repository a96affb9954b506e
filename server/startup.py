"""What ``qingling serve`` does before it listens: migrate, create the default project, publish forms."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import click

from server.collect_qr import collect_settings, encode_settings, terminal_qr
from server.config import Settings
from server.public_url import configured_or_detected
from server.services import Services
from sync.db.engine import transaction
from sync.db.migrate import upgrade
from sync.db.models import Project
from sync.errors import NotFound, Problem
from sync.intake.projects import ensure_default_project, get_project

log = logging.getLogger("qingling")


@dataclass(frozen=True)
class PhoneSetup:
    project_name: str
    server_path: str  # /v1/key/<token>/projects/<id>
    published: list[str]
    failed: list[str]


def prepare_database(services: Services, project_id: int | None) -> Project:
    upgrade(services.engine)
    with transaction(services.sessions) as session:
        default, _app_user = ensure_default_project(session, services.settings.default_project_name)
        project = default if project_id is None else get_project(session, project_id)
        if project is None:
            raise NotFound(f"There is no project {project_id}.")
        return project


def prepare(services: Services) -> PhoneSetup:
    from forms.build import FormBuildError, find_sources
    from sync.intake.publishing import publish_source

    project = prepare_database(services, None)
    published, failed = [], []
    if services.settings.publish_forms_on_start:
        for source in find_sources():
            try:
                with transaction(services.sessions) as session:
                    result = publish_source(session, services.store, project, source)
                published.append(f"{result.form.xml_form_id} {result.version.version}")
            except (FormBuildError, Problem) as exc:
                # One broken form must not keep the server (and the other forms) from starting.
                log.error("form %s not published: %s", source.name, exc)
                failed.append(source.name)
    return phone_setup(services, project, published, failed)


def phone_setup(
    services: Services, project: Project, published: list[str], failed: list[str] | None = None
) -> PhoneSetup:
    with transaction(services.sessions) as session:
        _project, app_user = ensure_default_project(session, services.settings.default_project_name)
        token = app_user.token
    return PhoneSetup(project.name, f"/v1/key/{token}/projects/{project.id}", published, failed or [])


def phone_url(settings: Settings, setup: PhoneSetup) -> str:
    return configured_or_detected(settings) + setup.server_path


def print_banner(settings: Settings, setup: PhoneSetup) -> None:
    url = phone_url(settings, setup)
    payload = encode_settings(collect_settings(url, setup.project_name))
    click.echo(terminal_qr(payload))
    click.secho("Qingling is ready.", bold=True)
    click.echo(f"  Forms published: {', '.join(setup.published) or 'none'}")
    if setup.failed:
        click.secho(f"  Forms refused (see the log above): {', '.join(setup.failed)}", fg="red")
    click.echo("  In ODK Collect: Configure with QR code (above), or enter this server URL by hand:")
    click.secho(f"    {url}", fg="green")
    click.echo(f"  Data folder: {settings.data_dir.resolve()}")
