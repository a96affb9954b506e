"""Every string a person reads is translated, and the committed compiled catalogues match their sources."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from server.i18n import TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]
METHODS = [("**.py", "python"), ("templates/web/**.html", "jinja2")]


def _catalogue(locale: str):  # noqa: ANN202
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def _source_strings() -> set[str]:
    found = set()
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "ngettext": (1, 2)}
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT / "server"), METHODS, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_string_has_a_chinese_translation() -> None:
    chinese = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in _catalogue("zh_Hans_CN") if m.id}
    missing = sorted(s for s in _source_strings() if not chinese.get(s))
    assert missing == [], "strings without a zh-CN translation (docs/review.md, Translations)"


def test_compiled_catalogues_are_those_of_the_sources() -> None:
    for locale in ("zh_Hans_CN", "en"):
        source = {m.id: m.string for m in _catalogue(locale) if m.id and m.string}
        with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
            compiled = {m.id: m.string for m in read_mo(handle) if m.id and m.string}
        assert compiled == source, f"{locale}: messages.mo is stale; compile it (docs/review.md, Translations)"


def test_pages_are_chinese_by_default_and_english_on_request(client) -> None:  # noqa: ANN001
    assert "<h1>登录</h1>" in client.get("/sign-in").get_data(as_text=True)
    switched = client.get("/language/en?next=/sign-in")
    assert switched.status_code == 302 and switched.location == "/sign-in"
    assert "<h1>Sign in</h1>" in client.get("/sign-in").get_data(as_text=True)
    assert client.get("/language/en?next=//elsewhere.example/").location == "/"
