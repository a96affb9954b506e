"""Turn a submission POST into a plain :class:`sync.intake.ingest.Envelope` (no tables touched here)."""

from __future__ import annotations

from flask import request

from server.auth import Actor
from server.uploads import HashingSpool
from sync.errors import MissingSubmissionFile, NotMultipart
from sync.intake.ingest import Envelope, UploadedFile, check_attachment_name

XML_PART = "xml_submission_file"


def read_envelope(project_id: int, actor: Actor) -> Envelope:
    if request.mimetype != "multipart/form-data":
        raise NotMultipart(
            "A submission must be sent as multipart/form-data with an xml_submission_file part "
            f"(got {request.mimetype or 'no content type'})."
        )
    files = request.files  # parsing streams every part through HashingSpool (server.uploads)
    xml_part = files.get(XML_PART)
    if xml_part is None:
        raise MissingSubmissionFile()
    xml = xml_part.stream.read() if not isinstance(xml_part.stream, HashingSpool) else _spool_bytes(xml_part.stream)
    uploads = []
    for field, storage in files.items(multi=True):
        if field == XML_PART:
            continue
        name = storage.filename or field
        check_attachment_name(name)
        spool = storage.stream
        assert isinstance(spool, HashingSpool)
        spool.finish()
        uploads.append(
            UploadedFile(
                name=name,
                content_type=storage.mimetype or None,
                sha256=spool.sha256.hexdigest(),
                md5=spool.md5.hexdigest(),
                size=spool.size,
                path=spool.path,
                data=spool.getvalue(),
            )
        )
    return Envelope(
        project_id=project_id,
        xml=xml,
        files=uploads,
        device_id=request.args.get("deviceID"),
        user_agent=request.headers.get("User-Agent"),
        user_id=actor.user_id,
        app_user_id=actor.app_user_id,
    )


def _spool_bytes(spool: HashingSpool) -> bytes:
    value = spool.getvalue()
    if value is not None:
        return value
    spool.seek(0)
    return spool.read()
