"""The media files a compiled form attaches, and where to read them from.

A form names its attachments inside the XForm (``jr://file-csv/admin.csv`` for a list or ``pulldata()``,
``jr://images/logo.png`` for a label image). Phones download exactly those names from the form's
manifest (docs/protocol.md §5.1, §5.3), so the names come from the compiled XML, not from the folder
listing: a file lying in the media folder but used by no form must not be published with it.
"""

from __future__ import annotations

import re
from pathlib import Path

from forms.locations import SOURCES_DIR

# jr://file/, jr://file-csv/ (external instances), jr://images/, jr://audio/, jr://video/ (itext media).
_MEDIA_URI = re.compile(r"jr://(?:file|file-csv|images|audio|video)/([^\"'<>\s]+)")


def referenced_media(xml: bytes | str) -> tuple[str, ...]:
    """Return the file names the XForm refers to, in order of first use, without duplicates."""
    text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
    names: dict[str, None] = {}
    for match in _MEDIA_URI.finditer(text):
        names.setdefault(match.group(1), None)
    return tuple(names)


def media_folders(directory: Path = SOURCES_DIR) -> tuple[Path, Path]:
    """Where ``media_file`` looks, in order: the ``media`` folder beside the sources, then their own folder."""
    return directory / "media", directory


def media_file(name: str, directory: Path = SOURCES_DIR) -> Path | None:
    """Return the file ``name`` for forms in ``directory``, or None when it is missing.

    Looked up in ``directory/media/`` (the repository convention) and then in ``directory`` itself
    (small test forms keep their CSV next to the Markdown source). Names with a path part are refused:
    a form must not make the server read files outside its media folder.
    """
    if not name or Path(name).name != name or name in (".", ".."):
        return None
    for folder in media_folders(directory):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None
