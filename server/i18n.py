"""One translation mechanism for every string a person reads: Flask-Babel, zh-CN by default, English on request.

The catalogues are ``server/translations/<locale>/LC_MESSAGES/messages.po`` (``zh_Hans_CN``, the name Babel
gives zh-CN, and ``en``) with their compiled ``.mo``
files committed beside them (a fresh ``pip install -e .`` has no build step); ``tests/server/test_i18n.py``
fails when a ``.mo`` is older than its ``.po`` or a template string has no Chinese translation.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, request
from flask_babel import Babel

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LOCALES = {"zh_CN": "中文", "en": "English"}
DEFAULT_LOCALE = "zh_CN"
COOKIE = "qingling_lang"


def select_locale() -> str:
    """The language the person chose (a cookie set by the language switch), else Chinese."""
    chosen = request.cookies.get(COOKIE, "")
    return chosen if chosen in LOCALES else DEFAULT_LOCALE


def init_app(app: Flask) -> None:
    Babel(
        app,
        locale_selector=select_locale,
        default_locale=DEFAULT_LOCALE,
        default_translation_directories=str(TRANSLATIONS),
    )
