"""The ``qingling`` command: serve, database, accounts, forms. Commands parse options and call the core."""

from __future__ import annotations

import contextlib
import getpass
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from server.config import Settings, SettingsError, load_settings
from server.services import DataFolderMissing, Services, build_services
from sync.access.roles import ROLES

if TYPE_CHECKING:
    from forms.build import FormBuildError


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
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="HTTP processes sharing the port (more than 1 needs PostgreSQL).")
@click.option("--no-worker", is_flag=True, help="Run no background jobs here; leave them to `qingling worker`.")
def serve(host: str | None, port: int | None, workers: int, no_worker: bool) -> None:
    """Migrate, publish the forms in forms/sources, print the phone set-up, and serve."""
    from server.malloc import tune
    from server.startup import prepare, print_banner

    tune()  # before any serving thread (and fork) starts

    services = _services(create=True, host=host, port=port)
    if workers > 1:
        _refuse_sqlite_processes(services.settings, workers)
    summary = prepare(services)
    print_banner(services.settings, summary)
    if workers == 1:
        _serve_here(services, jobs=not no_worker)
    else:
        services.engine.dispose()  # no connection of the parent's may cross the fork
        _serve_forked(services.settings, workers, jobs=not no_worker)


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
    from sync.intake.form_checks import check_form, folder_columns

    sources = list(paths) or find_sources()
    failed = 0
    for source in sources:
        try:
            compiled = compile_xlsform(source)
            check_form(compiled, folder_columns(source.parent))
        except FormBuildError as exc:
            failed += 1
            _echo_refused(exc)
            continue
        click.secho(f"ok      {source.name}: {compiled.form_id} version {compiled.version}", fg="green")
        for warning in compiled.problems:
            click.secho(f"        warning: {warning.sentence()}", fg="yellow")
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
        except FormBuildError as exc:
            _echo_refused(exc)
            raise click.ClickException(str(exc)) from exc
        except Problem as exc:
            raise click.ClickException(str(exc)) from exc
        state = "published" if result.created else "already published, unchanged:"
        click.echo(f"{state} {result.form.xml_form_id} version {result.version.version}")


def _echo_refused(exc: FormBuildError) -> None:
    """Today's sentence, then every other row involved (the first use of a duplicate, a loop's nodes)."""
    click.secho(f"REFUSED {exc}", fg="red", err=True)
    for problem in exc.problems[1:]:
        label = "also" if problem.kind == "error" else "warning"
        click.secho(f"        {label}: {problem.sentence()}", fg="red" if label == "also" else "yellow", err=True)


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
    from sync.jobs.worker import Worker

    services = _services()
    click.echo("worker running; Ctrl-C to stop")
    with contextlib.suppress(KeyboardInterrupt):
        Worker(services.sessions, services.work, retention=services.settings.job_retention).run()


@main.group()
def jobs() -> None:
    """The background work queue."""


@jobs.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also list finished jobs.")
def jobs_list(show_all: bool) -> None:
    """Pending and failed jobs with their last error (a failure is never silent)."""
    from sync.jobs.queue import list_jobs

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
    from sync.jobs.queue import retry_failed

    services = _services()
    with transaction(services.sessions) as session:
        count = retry_failed(session)
    click.echo(f"{count} job(s) queued again")


@jobs.command("prune")
@click.option(
    "--older-than-days",
    type=click.IntRange(min=1),
    default=None,
    help="Keep done jobs finished more recently (default: QINGLING_JOB_RETENTION_DAYS).",
)
def jobs_prune(older_than_days: int | None) -> None:
    """Delete done jobs finished longer ago than the retention, in short batches; failed jobs stay."""
    from datetime import timedelta

    from sync.jobs.queue import prune_done

    services = _services()
    days = older_than_days or services.settings.job_retention_days
    removed = prune_done(services.sessions, timedelta(days=days))
    click.echo(f"{removed} done job(s) finished more than {days} day(s) ago removed")


@main.group()
def registry() -> None:
    """The household registry."""


@registry.command("rebuild")
@click.option("--project", "project_id", type=int, default=None)
def registry_rebuild(project_id: int | None) -> None:
    """Recompute the registry from the stored submissions (how a rule change reaches past data)."""
    from rich.progress import Progress

    from sync.ledger.rebuild import rebuild_with_ledger

    services = _services()
    with Progress() as progress:
        task = progress.add_task("normalizing submissions", total=None)
        report = rebuild_with_ledger(
            services.sessions,
            project_id,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    click.echo(f"registry rebuilt from {report.submissions} submission(s), and the ledger with it")


@main.group()
def parameters() -> None:
    """The county's rule-parameter table: upload a version, preview what it changes, apply it."""


@parameters.command("upload")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def parameters_upload(path: Path) -> None:
    """Check the table at PATH row by row and keep it as a new version (not applied yet)."""
    from sync.db.engine import transaction
    from sync.errors import Problem
    from sync.ledger.parameters import upload

    services = _services()
    try:
        with transaction(services.sessions) as session:
            version = upload(session, path.name, path.read_bytes(), None)
            version_id = version.id
    except Problem as exc:
        problems = exc.details.get("problems") or [str(exc)]
        raise click.ClickException("\n".join(str(problem) for problem in problems)) from exc
    click.echo(f"parameter table version {version_id} uploaded; `qingling parameters preview {version_id}`")


@parameters.command("list")
def parameters_list() -> None:
    """Uploaded versions, newest first, with their state (uploaded, applied, superseded)."""
    from sync.ledger.parameters import list_versions

    with _services().sessions() as session:
        for version in list_versions(session):
            click.echo(f"{version.id}\t{version.state}\t{version.file_name}\t{version.uploaded_at:%Y-%m-%d %H:%M}")


@parameters.command("preview")
@click.argument("version_id", type=int)
@click.option("--area", default="", help="Only households of this administrative area (a code prefix).")
@click.option("--project", "project_id", type=int, default=None)
def parameters_preview(version_id: int, area: str, project_id: int | None) -> None:
    """Say which households would cross an income line if VERSION_ID were applied."""
    from server.startup import prepare_database
    from sync.errors import Problem
    from sync.ledger.parameters import get_version, preview

    services = _services()
    project = prepare_database(services, project_id)
    try:
        with services.sessions() as session:
            found = preview(session, project.id, get_version(session, version_id), area)
    except Problem as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{found.households} household(s) with a computed income check")
    for line in found.summary() or ["no household crosses a line"]:
        click.echo(line)


@parameters.command("apply")
@click.argument("version_id", type=int)
def parameters_apply(version_id: int) -> None:
    """Make VERSION_ID the county's table and re-judge the registry and the ledger."""
    from rich.progress import Progress

    from sync.errors import Problem
    from sync.ledger.parameters import apply_version

    services = _services()
    try:
        with Progress() as progress:
            task = progress.add_task("re-judging submissions", total=None)
            done = apply_version(
                services.sessions, services.settings.parameter_dir, version_id, None,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )  # fmt: skip
    except Problem as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"parameter table version {version_id} applied; {done} submission(s) judged again")


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


@main.group()
def export() -> None:
    """Download exports to files, as the HTTP routes serve them."""


@export.command("submissions")
@click.argument("form_id")
@click.option(
    "--format", "kind", type=click.Choice(["csv-zip", "csv", "xlsx", "parquet"]), default="csv-zip", show_default=True
)
@click.option("--filter", "filter_text", default=None, help="An OData $filter, as on the /v1 routes.")
@click.option("--labels", default=None, help="XLSX label rows: zh-CN (default), en or both.")
@click.option("--codes", is_flag=True, help="XLSX: a code column after each labelled select column.")
@click.option("--table", default=None, help="Parquet: a repeat table (its path) instead of the root table.")
@click.option("--area", default=None, help="Only this administrative area (a code prefix).")
@click.option("--no-media", is_flag=True, help="CSV ZIP: leave out the media files.")
@click.option("--project", "project_id", type=int, default=None)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_submissions(
    form_id: str,
    kind: str,
    filter_text: str | None,
    labels: str | None,
    codes: bool,
    table: str | None,
    area: str | None,
    no_media: bool,
    project_id: int | None,
    out: Path,
) -> None:
    """Write one form's submissions to OUT; the file appears only once it is complete."""
    from server.startup import prepare_database
    from sync.db.engine import transaction
    from sync.errors import Problem
    from sync.exports.submissions import prepare

    params = {"$filter": filter_text, "labels": labels, "codes": "true" if codes else None, "table": table}
    params = {k: v for k, v in params.items() if v is not None}
    if no_media:
        params["attachments"] = "false"
    services = _services()
    project = prepare_database(services, project_id)
    try:
        with transaction(services.sessions) as session:
            prepared = prepare(
                session, services.engine, project.id, form_id, kind, params, area=area, user_id=None
            )
        _write_streamed(prepared.body(services.engine, services.store), out, prepared.rows)
    except Problem as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {out} ({out.stat().st_size:,} bytes)")


def _write_streamed(chunks: Iterator[bytes], out: Path, rows: int | None) -> None:
    """Stream to ``OUT.partial`` with a progress bar, then rename: a failed export leaves no short file."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    partial = out.with_name(out.name + ".partial")
    label = f"{rows:,} rows" if rows is not None else ""
    try:
        with partial.open("wb") as handle, Progress(
            TextColumn(f"[bold]{out.name}[/] {label}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeElapsedColumn(), transient=not sys.stderr.isatty(),
        ) as progress:
            task = progress.add_task("export", total=None)
            for chunk in chunks:
                handle.write(chunk)
                progress.advance(task, len(chunk))
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)


@export.command("registry")
@click.option(
    "--format", "kind", type=click.Choice(["csv-zip", "xlsx", "parquet"]), default="xlsx", show_default=True
)
@click.option("--area", default=None, help="Only households of this administrative area (a code prefix).")
@click.option("--approved", is_flag=True, help="Only approved history records (default: every counted one).")
@click.option("--project", "project_id", type=int, default=None)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_registry(kind: str, area: str | None, approved: bool, project_id: int | None, out: Path) -> None:
    """Write the registry (households, members, history, codebook) to OUT once it is complete."""
    from server.startup import prepare_database
    from sync.db.engine import transaction
    from sync.errors import Problem
    from sync.exports.registry import prepare

    services = _services()
    project = prepare_database(services, project_id)
    params = {"approved": "true"} if approved else {}
    try:
        with transaction(services.sessions) as session:
            prepared = prepare(session, services.engine, project.id, kind, params, area=area, user_id=None)
        _write_streamed(prepared.body(services.engine, services.store), out, prepared.rows)
    except Problem as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {out} ({out.stat().st_size:,} bytes)")


@export.command("ledger")
@click.option("--area", default="", help="Only this administrative area (a code prefix).")
@click.option("--project", "project_id", type=int, default=None)
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_ledger(area: str, project_id: int | None, out: Path) -> None:
    """Write the clearance ledger (a sheet of villages, a sheet of items) as XLSX to OUT once it is complete."""
    from datetime import date

    from server.startup import prepare_database
    from sync.db.engine import transaction
    from sync.errors import Problem
    from sync.ledger.export import prepare_ledger_export

    services = _services()
    project = prepare_database(services, project_id)
    try:
        with transaction(services.sessions) as session:
            prepared = prepare_ledger_export(session, project.id, area, today=date.today(), user_id=None)
        _write_streamed(prepared.body(services.engine, services.store), out, prepared.rows)
    except Problem as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"wrote {out} ({out.stat().st_size:,} bytes)")


def _embedded_paths(settings: Settings) -> tuple[Path, Path, Path | None]:
    """The SQLite file, blob folder and secret-key file of the embedded default, or a clear refusal."""
    from sqlalchemy import make_url

    url = make_url(settings.resolved_database_url)
    if url.get_backend_name() != "sqlite" or settings.blob_store != "local":
        raise click.ClickException(
            "backup and restore cover the embedded default (SQLite and a local blob folder); for PostgreSQL and "
            "S3 use pg_dump or base backups and S3 versioning, as docs/operations.md describes"
        )
    secret_key = None if settings.secret_key else settings.data_dir / "secret_key"
    return Path(url.database or ""), settings.resolved_blob_dir, secret_key


@main.command("backup")
@click.argument("dest", type=click.Path(path_type=Path))
def backup_command(dest: Path) -> None:
    """Write a consistent snapshot of the database and the blobs it names into the new folder DEST (online)."""
    from sync.backup.embedded import BackupError, backup

    try:  # refuse PostgreSQL or S3 before connecting to them
        _embedded_paths(load_settings())
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    services = _services()
    database, _blobs, secret_key = _embedded_paths(services.settings)
    try:
        report = backup(database, services.store, secret_key, dest)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"backed up {report.submissions} submission(s) and {report.blobs} blob(s) "
        f"({report.blob_bytes / 1e6:.1f} MB) into {dest}"
    )
    if not report.secret_key:
        click.echo("the secret key comes from QINGLING_SECRET_KEY: keep it with the backup yourself")


@main.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore_command(src: Path) -> None:
    """Restore a backup into the configured, fresh data folder; then run `qingling media check`."""
    from sync.backup.embedded import BackupError, restore

    try:  # no services: they would create a database and a secret key the backup's must replace
        settings = load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    database, blobs, secret_key = _embedded_paths(settings)
    try:
        report = restore(src, database, blobs, secret_key)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored {report.submissions} submission(s) and {report.blobs} blob(s) taken {report.created_at}")


@main.group("app-users")
def app_users_group() -> None:
    """Phones (app users): each has its own token URL and, optionally, an area whose households it carries."""


@app_users_group.command("create")
@click.option("--name", "display_name", required=True, help="Who carries the phone, e.g. the enumerator's name.")
@click.option("--area", default=None, help="Village (12 digits), township (9) or county (6) code; default: all.")
@click.option("--project", "project_id", type=int, default=None, help="Project id (default: the first project).")
def app_users_create(display_name: str, area: str | None, project_id: int | None) -> None:
    """Create a phone's credential and print its QR code; its entity list holds only its area's households."""
    from server.collect_qr import collect_settings, encode_settings, terminal_qr
    from server.startup import PhoneSetup, phone_urls, prepare_database
    from sync.access.areas import create_app_user_in_area
    from sync.db.engine import transaction
    from sync.errors import Problem

    services = _services()
    project = prepare_database(services, project_id)
    try:
        with transaction(services.sessions) as session:
            app_user = create_app_user_in_area(session, project, display_name, area)
            app_user_id, token = app_user.id, app_user.token
    except Problem as exc:
        raise click.ClickException(exc.message) from exc
    setup = PhoneSetup(project.name, f"/v1/key/{token}/projects/{project.id}", [], [])
    url = phone_urls(services.settings, setup).urls[0]
    click.echo(terminal_qr(encode_settings(collect_settings(url, project.name))))
    click.echo(f"created app user {app_user_id} ({display_name}), area {area or 'all households'}")
    click.echo(f"  server URL: {url}")


@app_users_group.command("list")
def app_users_list() -> None:
    """Every app user with its area and whether it is revoked."""
    from sync.access.areas import app_users

    services = _services()
    with services.sessions() as session:
        for app_user in app_users(session):
            state = "revoked" if app_user.revoked_at else "active"
            click.echo(f"{app_user.id}\t{app_user.display_name}\tproject={app_user.project_id}\t"
                       f"area={app_user.area or '*'}\t{state}")


@app_users_group.command("area")
@click.argument("app_user_id", type=int)
@click.argument("area")
def app_users_area(app_user_id: int, area: str) -> None:
    """Give a phone another area ("*" for all households); it fetches the new list at its next form update."""
    from sync.access.areas import set_area
    from sync.db.engine import transaction
    from sync.errors import Problem

    services = _services()
    try:
        with transaction(services.sessions) as session:
            set_area(session, app_user_id, None if area == "*" else area)
    except Problem as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"app user {app_user_id} now carries area {area}")


@app_users_group.command("revoke")
@click.argument("app_user_id", type=int)
def app_users_revoke(app_user_id: int) -> None:
    """Revoke a lost phone's token at once; what it sent stays."""
    from sync.access.accounts import revoke_app_user
    from sync.access.areas import get_app_user
    from sync.db.engine import transaction
    from sync.errors import Problem

    services = _services()
    try:
        with transaction(services.sessions) as session:
            revoke_app_user(session, get_app_user(session, app_user_id))
    except Problem as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"app user {app_user_id} revoked")


# How much of a response waitress queues before the app's thread waits for the client (its default is
# 16 MiB): a download of 10^5 rows then held 10-15 MiB more than one of 10^4, and sent later.
OUTBUF_HIGH_WATERMARK = 1024 * 1024
# A queued buffer larger than this goes to a temporary file (its default is 1 MiB). Above the watermark,
# the queue rotates to a new buffer before one could reach it, so a response stays in memory instead of
# being copied to disk and read back a mebibyte at a time (a tenth of an OData download's CPU).
OUTBUF_OVERFLOW = 4 * OUTBUF_HIGH_WATERMARK


def _serve_here(services: Services, *, jobs: bool, sockets: list | None = None) -> None:
    """Serve with waitress in this process (and its job worker thread unless ``jobs`` is off)."""
    from waitress import serve as waitress_serve

    from server.access_log import AccessLog
    from server.app import create_app
    from sync.jobs.worker import Worker

    app = create_app(services=services)
    settings = services.settings
    if jobs:
        worker = Worker(services.sessions, services.work, retention=settings.job_retention)
        worker.start()
        app.extensions["qingling.worker"] = worker
    where = {"sockets": sockets} if sockets else {"host": settings.host, "port": settings.port}
    waitress_serve(
        AccessLog(app),
        **where,
        threads=settings.threads,
        max_request_body_size=settings.max_upload_bytes + 1_000_000,
        ident="qingling",
        outbuf_high_watermark=OUTBUF_HIGH_WATERMARK,
        outbuf_overflow=OUTBUF_OVERFLOW,
        clear_untrusted_proxy_headers=not settings.trust_proxy,
    )


def _refuse_sqlite_processes(settings: Settings, workers: int) -> None:
    if settings.resolved_database_url.startswith("sqlite"):
        raise click.ClickException(
            f"--workers {workers} needs PostgreSQL (QINGLING_DATABASE_URL): SQLite lets one writer in at a time, "
            "so more HTTP processes would only wait on each other's lock. On SQLite run one process "
            "(QINGLING_THREADS sets its threads); see docs/scaling.md."
        )


def _serve_forked(settings: Settings, workers: int, *, jobs: bool) -> None:
    """N waitress processes on one socket (server/processes.py); each builds its own services after the fork."""
    from server.processes import listening_socket, serve_processes
    from server.services import build_services

    sock = listening_socket(settings.host, settings.port)
    click.echo(f"serving with {workers} HTTP processes on {settings.host}:{settings.port}")

    def run_child(inherited: object) -> None:
        _serve_here(build_services(settings), jobs=jobs, sockets=[inherited])

    serve_processes(workers, sock, run_child)
