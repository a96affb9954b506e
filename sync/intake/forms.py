"""Queries about forms, their versions and media."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from media.store import blob_key
from sync.db.models import Form, FormAttachment, FormVersion
from sync.errors import NotFound


def listed_forms(session: Session, project_id: int) -> list[tuple[Form, FormVersion]]:
    """Open forms with a published version, ordered by title, as the form list shows them (docs/protocol.md §4.3)."""
    rows = session.execute(
        select(Form, FormVersion)
        .join(FormVersion, FormVersion.id == Form.current_version_id)
        .where(Form.project_id == project_id, Form.state == "open")
        .options(selectinload(FormVersion.attachments))
    ).all()
    return sorted(((f, v) for f, v in rows), key=lambda fv: (fv[1].title or fv[0].xml_form_id, fv[0].xml_form_id))


def published_forms(session: Session, project_id: int) -> list[tuple[Form, FormVersion]]:
    """Every form of the project with a published version (any state), with that version, by form id."""
    rows = session.execute(
        select(Form, FormVersion)
        .join(FormVersion, FormVersion.id == Form.current_version_id)
        .where(Form.project_id == project_id)
        .order_by(Form.xml_form_id)
    ).all()
    return [(form, version) for form, version in rows]


def current_form(session: Session, project_id: int, xml_form_id: str) -> tuple[Form, FormVersion]:
    row = session.execute(
        select(Form, FormVersion)
        .join(FormVersion, FormVersion.id == Form.current_version_id)
        .where(Form.project_id == project_id, Form.xml_form_id == xml_form_id)
    ).first()
    if row is None:
        raise NotFound(f"Could not find the form '{xml_form_id}'.")
    return row[0], row[1]


def get_form(session: Session, project_id: int, xml_form_id: str) -> Form:
    form = session.scalar(select(Form).where(Form.project_id == project_id, Form.xml_form_id == xml_form_id))
    if form is None:
        raise NotFound(f"Could not find the form '{xml_form_id}'.")
    return form


def published_form(session: Session, project_id: int, xml_form_id: str) -> Form:
    """A form with a published version: what exports read (a form created through the API may be a draft only)."""
    form = get_form(session, project_id, xml_form_id)
    if form.current_version_id is None:
        raise NotFound(f"The form '{xml_form_id}' has no published version yet; publish its draft first.")
    return form


def visible_forms(session: Session, project_id: int, *, drafts: bool) -> list[Form]:
    """The project's forms; those with only a draft are for the roles that manage forms (as in Central)."""
    forms = project_forms(session, project_id)
    return forms if drafts else [form for form in forms if form.current_version_id is not None]


def form_attachment(session: Session, version: FormVersion, name: str) -> FormAttachment:
    attachment = session.scalar(
        select(FormAttachment).where(FormAttachment.form_version_id == version.id, FormAttachment.name == name)
    )
    if attachment is None:
        raise NotFound(f"The form has no media file named '{name}'.")
    return attachment


def project_forms(session: Session, project_id: int) -> list[Form]:
    return list(session.scalars(select(Form).where(Form.project_id == project_id).order_by(Form.xml_form_id)))


def form_versions(session: Session, form: Form) -> list[FormVersion]:
    """Every published version of the form, newest first (Central's ``GET .../versions``)."""
    return list(
        session.scalars(
            select(FormVersion).where(FormVersion.form_id == form.id).order_by(FormVersion.id.desc())
        )
    )


def spreadsheet_key(form: Form, suffix: str) -> str:
    """The blob of the XLSX or XLS the current version was uploaded as; 404 when there is none of that kind."""
    from sync.intake.form_upload import SPREADSHEETS

    version = form.current_version
    if version is None or version.source_sha256 is None or SPREADSHEETS.get(version.source_type or "") != f".{suffix}":
        raise NotFound(f"The form '{form.xml_form_id}' was not uploaded as a .{suffix} file.")
    return blob_key(version.source_sha256)
