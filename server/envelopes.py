"""Turn a submission POST into a plain :class:`sync.intake.ingest.Envelope` (no tables touched here)."""

from __future__ import annotations

import re

from flask import request
from werkzeug.datastructures import FileStorage

from server.auth import Actor
from server.uploads import HashingSpool
from sync.errors import MissingSubmissionFile, NotMultipart, TooLarge
from sync.intake.ingest import Envelope, UploadedFile
from sync.intake.instance_xml import MAX_XML_BYTES

XML_PART = "xml_submission_file"
# A declared part type is kept only when it looks like one (``type/subtype``, as short as the column).
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,48}/[a-z0-9][a-z0-9!#$&^_.+-]{0,48}$")


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
    uploads = [_upload(field, storage) for field, storage in files.items(multi=True) if field != XML_PART]
    return Envelope(
        project_id=project_id,
        xml=_xml_bytes(xml_part.stream),
        files=uploads,
        device_id=request.args.get("deviceID"),
        user_agent=(request.headers.get("User-Agent") or "").replace("\x00", "") or None,
        user_id=actor.user_id,
        app_user_id=actor.app_user_id,
    )


def _upload(field: str, storage: FileStorage) -> UploadedFile:
    """One attachment part; its name is checked only if the XML names it (sync.ingest), as Central does."""
    spool = storage.stream
    assert isinstance(spool, HashingSpool)
    declared = storage.mimetype
    return UploadedFile(
        name=storage.filename or field or "",
        content_type=declared if _MEDIA_TYPE.match(declared) else None,
        sha256=spool.sha256.hexdigest(),
        md5=spool.md5.hexdigest(),
        size=spool.size,
        path=spool.path,
        data=spool.getvalue(),
    )


def _xml_bytes(spool: HashingSpool) -> bytes:
    """The XML part's bytes, refused by its size before it is read into memory."""
    if spool.size > MAX_XML_BYTES:
        raise TooLarge(
            f"The submission's XML is {spool.size:,} bytes, more than this server accepts ({MAX_XML_BYTES:,}). "
            "Nothing was saved."
        )
    value = spool.getvalue()
    if value is not None:
        return value
    spool.seek(0)
    return spool.read()
