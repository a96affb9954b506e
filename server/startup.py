"""What ``qingling serve`` does before it listens: migrate, create the default project, publish forms."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import click

from server.collect_qr import collect_settings, encode_settings, terminal_qr
from server.config import Settings
from server.network import ALL_INTERFACES, Interface, phone_hosts
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
    before, after = upgrade(services.engine)
    if before != after:
        log.info("database upgraded from %s to %s", before or "empty", after)
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


@dataclass(frozen=True)
class PhoneUrls:
    """The URLs phones may use, best first (the first goes in the QR code)."""

    urls: list[str]
    # None when a phone can reach the first URL; otherwise why it cannot, for the operator.
    unreachable: str | None = None


def phone_urls(settings: Settings, setup: PhoneSetup, interfaces: Iterable[Interface] | None = None) -> PhoneUrls:
    """``QINGLING_PUBLIC_URL`` when set; else one URL per LAN address (``interfaces``: this machine's)."""
    if settings.public_url:
        return PhoneUrls([settings.public_url.rstrip("/") + setup.server_path])
    hosts = phone_hosts(settings.host, interfaces)
    if hosts:
        return PhoneUrls([_url(host, settings.port, setup.server_path) for host in hosts])
    if settings.host in ALL_INTERFACES:
        reason = (
            "this machine has no network address but loopback, which phones cannot reach. "
            "Set QINGLING_PUBLIC_URL to the address phones reach (e.g. http://192.168.1.10:8383)"
        )
        host = "127.0.0.1"
    else:
        reason = (
            f"the server listens on {settings.host} only (QINGLING_HOST or --host). Listen on 0.0.0.0 (the "
            "default) or a LAN address, or, behind a reverse proxy, set QINGLING_PUBLIC_URL to its address"
        )
        host = settings.host
    return PhoneUrls([_url(host, settings.port, setup.server_path)], reason)


def _url(host: str, port: int, path: str) -> str:
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"


def print_banner(settings: Settings, setup: PhoneSetup, interfaces: Iterable[Interface] | None = None) -> None:
    found = phone_urls(settings, setup, interfaces)
    url, others = found.urls[0], found.urls[1:]
    payload = encode_settings(collect_settings(url, setup.project_name))
    click.echo(terminal_qr(payload))
    click.secho("Qingling is ready.", bold=True)
    click.echo(f"  Forms published: {', '.join(setup.published) or 'none'}")
    if setup.failed:
        click.secho(f"  Forms refused (see the log above): {', '.join(setup.failed)}", fg="red")
    click.echo("  In ODK Collect: Configure with QR code (above), or enter this server URL by hand:")
    click.secho(f"    {url}", fg="green")
    if others:
        click.echo("  This machine has other network addresses; a phone on one of those networks uses:")
        for other in others:
            click.secho(f"    or {other}", fg="green")
    if found.unreachable:
        click.secho(f"  WARNING: phones cannot connect to this URL: {found.unreachable}.", fg="red", bold=True)
    click.echo(f"  Data folder: {settings.data_dir.resolve()}")
