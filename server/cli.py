"""The ``qingling`` command: serve, database, accounts, forms. Commands parse options and call the core."""

from __future__ import annotations

import contextlib
import getpass
import logging
import sys
from pathlib import Path

import click

from server.config import SettingsError, load_settings
from server.services import DataFolderMissing, Services, build_services
from sync.access.roles import ROLES


def _services(*, create: bool = False, **overrides: object) -> Services:
    """Settings and services for one command.

    ``create=True`` only for the commands that set an installation up (``serve``, ``db upgrade``, ``users
    create``): they make the data folder and migrate. Every other command refuses, with the reason and no
    traceback, a data folder that does not exist or a database that is not at this version's revision.
    """
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    logging.getLogger("qingling").setLevel(settings.log_level.upper())
    try:
        services = build_services(settings, create=create)
    except DataFolderMissing as exc:
        raise click.ClickException(str(exc)) from None
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(services.engine.dispose)  # close pooled connections when the command ends
    if not create:
        from sync.db.migrate import schema_problem

        problem = schema_problem(services.engine)
        if problem is not None:
            raise click.ClickException(problem)
    return services


@click.group()
def main() -> None:
    """Qingling: the household-survey server for ODK Collect."""
    # Libraries (alembic, waitress) speak up only for warnings; Qingling's own loggers at QINGLING_LOG_LEVEL.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("qingling").setLevel(logging.INFO)


@main.command()
@click.option("--host", default=None, help="Address to bind (default QINGLING_HOST or 0.0.0.0).")
@click.option("--port", default=None, type=int, help="Port (default QINGLING_PORT or 8383).")
def serve(host: str | None, port: int | None) -> None:
    """Migrate, publish the forms in forms/sources, print the phone set-up, and serve."""
    from waitress import serve as waitress_serve

    from server.access_log import AccessLog
    from server.app import create_app
    from server.startup import prepare, print_banner
    from sync.work.worker import Worker

    services = _services(create=True, host=host, port=port)
    summary = prepare(services)
    print_banner(services.settings, summary)
    app = create_app(services=services)
    settings = services.settings
    worker = Worker(services.sessions, services.work)
    worker.start()
    app.extensions["qingling.worker"] = worker
    waitress_serve(
        AccessLog(app),
        host=settings.host,
        port=settings.port,
        threads=settings.threads,
        max_request_body_size=settings.max_upload_bytes + 1_000_000,
        ident="qingling",
        clear_untrusted_proxy_headers=not settings.trust_proxy,
    )


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (safe to repeat)."""
    from sync.db.migrate import upgrade

    services = _services(create=True)
    before, after = upgrade(services.engine)
    if before == after:
        click.echo(f"database is at the latest revision ({after})")
    else:
        click.echo(f"database upgraded from {before or 'empty'} to {after}")


@main.group()
def users() -> None:
    """Named accounts."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--area", default="", help="County (6 digits), township (9) or village (12) code; default: all.")
def users_create(email: str, role: str, area: str) -> None:
    """Create an account; the password is asked at a prompt, or read from standard input."""
    from sync.access.accounts import create_user
    from sync.db.engine import transaction
    from sync.db.migrate import upgrade
    from sync.errors import Problem
    from sync.intake.projects import ensure_default_project

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise click.ClickException("the passwords differ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    services = _services(create=True)
    upgrade(services.engine)  # a fresh data folder has no tables yet
    try:
        with transaction(services.sessions) as session:
            project, _app_user = ensure_default_project(session, services.settings.default_project_name)
            user = create_user(session, email, password, role, area=area, project_id=project.id)
    except Problem as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"created {user.email} ({user.role}, {area or 'whole project'})")


@main.group()
def forms() -> None:
    """Build and publish XLSForms."""


@forms.command("build")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
def forms_build(paths: tuple[Path, ...]) -> None:
    """Compile XLSForms with pyxform and check them with ODK Validate (default: every form in forms/sources)."""
    from forms.build import FormBuildError, compile_xlsform, find_sources

    sources = list(paths) or find_sources()
    failed = 0
    for source in sources:
        try:
            compiled = compile_xlsform(source)
        except FormBuildError as exc:
            failed += 1
            click.secho(f"REFUSED {exc}", fg="red", err=True)
            continue
        click.secho(f"ok      {source.name}: {compiled.form_id} version {compiled.version}", fg="green")
        for warning in compiled.warnings:
            click.secho(f"        warning: {warning}", fg="yellow")
    if failed:
        raise click.ClickException(f"{failed} form(s) refused")


@forms.command("publish")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--project", "project_id", type=int, default=None, help="Project id (default: the first project).")
def forms_publish(paths: tuple[Path, ...], project_id: int | None) -> None:
    """Publish a new version of each form; the earlier version keeps accepting submissions."""
    from forms.build import FormBuildError
    from server.startup import prepare_database
    from sync.db.engine import transaction
    from sync.errors import Problem
    from sync.intake.publishing import publish_source

    services = _services()
    project = prepare_database(services, project_id)
    for path in paths:
        try:
            with transaction(services.sessions) as session:
                result = publish_source(session, services.store, project, path)
        except (FormBuildError, Problem) as exc:
            raise click.ClickException(str(exc)) from exc
        state = "published" if result.created else "already published, unchanged:"
        click.echo(f"{state} {result.form.xml_form_id} version {result.version.version}")


@forms.command("state")
@click.argument("form_id")
@click.argument("state", type=click.Choice(["open", "closing", "closed"]))
@click.option("--project", "project_id", type=int, default=None)
def forms_state(form_id: str, state: str, project_id: int | None) -> None:
    """Open, close (closing: hidden from phones, still accepting) or fully close a form."""
    from server.startup import prepare_database
    from sync.db.engine import transaction
    from sync.errors import Problem
    from sync.intake.forms import get_form
    from sync.intake.publishing import set_form_state

    services = _services()
    project = prepare_database(services, project_id)
    try:
        with transaction(services.sessions) as session:
            set_form_state(session, get_form(session, project.id, form_id), state)
    except Problem as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{form_id} is now {state}")


@forms.command("approval")
@click.argument("form_id")
@click.argument("setting", type=click.Choice(["required", "not-required"]))
@click.option("--project", "project_id", type=int, default=None)
def forms_approval(form_id: str, setting: str, project_id: int | None) -> None:
    """Whether the registry waits for a supervisor's approval of this form's submissions (Central's
    approvalRequired); the form's submissions are normalized again under the new rule."""
    from server.startup import prepare_database
    from sync.db.engine import transaction
    from sync.errors import Problem
    from sync.intake.forms import get_form
    from sync.review.gate import set_approval_required

    services = _services()
    project = prepare_database(services, project_id)
    try:
        with transaction(services.sessions) as session:
            queued = set_approval_required(session, get_form(session, project.id, form_id), setting == "required",
                                           user_id=None)
    except Problem as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{form_id}: approval {setting}; {queued} submission(s) queued to be normalized again")


@main.command()
def worker() -> None:
    """Run queued background work (normalization, photo checks) until stopped; serve runs one too."""
    from sync.work.worker import Worker

    services = _services()
    click.echo("worker running; Ctrl-C to stop")
    with contextlib.suppress(KeyboardInterrupt):
        Worker(services.sessions, services.work).run()


@main.group()
def jobs() -> None:
    """The background work queue."""


@jobs.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also list finished jobs.")
def jobs_list(show_all: bool) -> None:
    """Pending and failed jobs with their last error (a failure is never silent)."""
    from sync.work.queue import list_jobs

    services = _services()
    with services.sessions() as session:
        found = list_jobs(session, include_done=show_all)
        if not found:
            click.echo("no jobs" if show_all else "no pending or failed jobs")
        for job in found:
            error = (job.last_error or "").strip().splitlines()[-1:] or [""]
            click.echo(f"{job.id}\t{job.kind}\t{job.state}\tattempts={job.attempts}\t{error[0]}")


@jobs.command("retry")
def jobs_retry() -> None:
    """Queue failed jobs again, now."""
    from sync.db.engine import transaction
    from sync.work.queue import retry_failed

    services = _services()
    with transaction(services.sessions) as session:
        count = retry_failed(session)
    click.echo(f"{count} job(s) queued again")


@main.group()
def registry() -> None:
    """The household registry."""


@registry.command("rebuild")
@click.option("--project", "project_id", type=int, default=None)
def registry_rebuild(project_id: int | None) -> None:
    """Recompute the registry from the stored submissions (how a rule change reaches past data)."""
    from rich.progress import Progress

    from sync.registry.rebuild import rebuild_registry

    services = _services()
    with Progress() as progress:
        task = progress.add_task("normalizing submissions", total=None)
        report = rebuild_registry(
            services.sessions,
            project_id,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    click.echo(f"registry rebuilt from {report.submissions} submission(s)")


@main.command()
def qr() -> None:
    """Print the phone set-up (URL and QR code) again."""
    from server.startup import phone_setup, prepare_database, print_banner

    services = _services()
    project = prepare_database(services, None)
    print_banner(services.settings, phone_setup(services, project, published=[]))



@main.group("media")
def media_group() -> None:
    """Stored photos and files."""


@media_group.command("check")
@click.option("--sizes-only", is_flag=True, help="Compare sizes only instead of reading every blob to hash it.")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True, help="Blobs read at once.")
def media_check(sizes_only: bool, workers: int) -> None:
    """Verify every attachment against the blob store and list orphans both ways (exit 1 on problems)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from media.store import StoreUnavailable
    from sync.evidence.storage_audit import check_media

    services = _services()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=Console(stderr=True)) as progress:
            task = progress.add_task("checking blobs", total=None)
            report = check_media(
                services.sessions,
                services.store,
                verify_content=not sizes_only,
                workers=workers,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except StoreUnavailable as exc:
        raise click.ClickException(f"the blob store is unavailable: {exc}") from exc
    finally:
        services.engine.dispose()
    for problem in report.problems:
        click.echo(problem.line())
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@media_group.command("sweep")
@click.option(
    "--older-than-hours",
    type=click.FloatRange(min=1.0),
    default=24.0,
    show_default=True,
    help="Only writes started at least this long ago (a younger one may still be in flight).",
)
def media_sweep(older_than_hours: float) -> None:
    """Remove unfinished writes left in the blob store by a crashed or killed process."""
    from media.store import StoreUnavailable

    services = _services()
    try:
        removed = services.store.remove_partial_writes(older_than=older_than_hours * 3600)
    except StoreUnavailable as exc:
        raise click.ClickException(f"the blob store is unavailable: {exc}") from exc
    finally:
        services.engine.dispose()
    click.echo(f"removed {removed} unfinished write(s) older than {older_than_hours:g} h")
