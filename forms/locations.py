"""Where the XLSForm sources and their media files live in the repository.

The folder layout is the form designer's contract (docs/forms.md): one workbook per form in
``forms/sources``, every file a form attaches (CSV lists, images) in ``forms/sources/media``.
"""

from __future__ import annotations

from pathlib import Path

SOURCES_DIR: Path = Path(__file__).resolve().parent / "sources"
MEDIA_DIR: Path = SOURCES_DIR / "media"
