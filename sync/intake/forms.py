"""Queries about forms, their versions and media."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

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


def form_attachment(session: Session, version: FormVersion, name: str) -> FormAttachment:
    attachment = session.scalar(
        select(FormAttachment).where(FormAttachment.form_version_id == version.id, FormAttachment.name == name)
    )
    if attachment is None:
        raise NotFound(f"The form has no media file named '{name}'.")
    return attachment


def project_forms(session: Session, project_id: int) -> list[Form]:
    return list(session.scalars(select(Form).where(Form.project_id == project_id).order_by(Form.xml_form_id)))
