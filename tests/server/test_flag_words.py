"""The rules' flag messages on Chinese pages: every message the rules can write has a catalogue entry."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from flask import Flask

from server import i18n
from server.flag_words import translate_message

RULES = Path(__file__).resolve().parents[2] / "forms" / "rules"


@pytest.fixture
def page() -> Flask:
    app = Flask(__name__)
    i18n.init_app(app)
    return app


def rule_messages() -> list[str]:
    """Each message passed to the rules' ``error`` / ``warning`` / ``info``, its values filled with "7"."""
    found = []
    for path in sorted(RULES.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("error", "warning", "info") and len(node.args) >= 2):
                continue
            message = node.args[1]
            if isinstance(message, ast.Constant) and isinstance(message.value, str):
                found.append(message.value)
            elif isinstance(message, ast.JoinedStr):
                found.append("".join(part.value if isinstance(part, ast.Constant) else "7" for part in message.values))
    return found


def test_every_rule_message_is_translated(page: Flask) -> None:
    messages = rule_messages()
    assert len(messages) > 50
    with page.test_request_context("/"):
        untranslated = [m for m in messages if translate_message(m) == m]
    assert untranslated == [], "rule messages without an entry in server/flag_words.py"


def test_values_prefixes_and_joined_findings_are_kept(page: Flask) -> None:
    with page.test_request_context("/"):
        assert translate_message("storeys = 12 must be between 1 and 3") == "storeys = 12，应在 1 到 3 之间"
        assert translate_message("户主: m_sex 1 does not match the ID (17th digit)") == (
            "户主：性别 m_sex 1 与身份证号（第 17 位）不符"
        )
        assert translate_message("members[2].m_id: no ID number given; 15-digit legacy numbers are not accepted") == (
            "members[2].m_id：未填身份证号；不接受 15 位旧身份证号"
        )
        assert translate_message("No verdict: storeys is required.") == "未得出判定：storeys 为必填项。"
        assert translate_message("Something no rule says.") == "Something no rule says."
    with page.test_request_context("/", headers={"Cookie": f"{i18n.COOKIE}=en"}):
        assert translate_message("storeys = 12 must be between 1 and 3") == "storeys = 12 must be between 1 and 3"
