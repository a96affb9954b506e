"""Two requests setting a draft of one form at the same moment, on both databases: never a 500.

On PostgreSQL both insert a draft, and the unique draft per form lets the first one win: the second gets
Central's 409.3. SQLite runs one writer at a time, so there the second waits and replaces the first's.
Either way exactly one draft is left, and it is the winner's.
"""

from __future__ import annotations

import threading
import time

from sqlalchemy import select, text

from sync.db.models import FormDraft
from sync.intake.drafts import replace_draft
from sync.intake.forms import get_form
from tests.formsapi.test_forms_api import create
from tests.formsapi.workbooks import workbook

SURVEY = [["type", "name", "label"], ["integer", "members", "Members"]]


def _waiting_for_a_lock(services) -> bool:  # noqa: ANN001
    with services.engine.connect() as connection:
        return bool(connection.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted")))


def test_two_drafts_of_one_form_at_once(client, manager, services, project) -> None:  # noqa: ANN001
    assert create(client, manager, workbook("race", "1", SURVEY), query="?publish=true").status_code == 200
    postgres = services.engine.dialect.name == "postgresql"
    first = services.sessions()
    mine = replace_draft(first, services.store, get_form(first, project.id, "race"), None, None)  # not committed
    answers = []
    second = threading.Thread(target=lambda: answers.append(
        client.post("/v1/projects/1/forms/race/draft", headers=manager)))
    second.start()
    if postgres:  # let the second request reach its insert, which waits on the first one's row
        deadline = time.monotonic() + 30
        while not _waiting_for_a_lock(services):
            assert time.monotonic() < deadline, "the second request never waited on the first"
            time.sleep(0.05)
    token = mine.draft_token
    first.commit()
    first.close()
    second.join(60)
    assert not second.is_alive()
    (answer,) = answers
    with services.sessions() as session:
        left = list(session.scalars(select(FormDraft.draft_token)))
    if postgres:
        assert answer.status_code == 409 and answer.json["code"] == 409.3, answer.json
        assert "at the same moment" in answer.json["message"]
        assert left == [token]
    else:
        assert answer.status_code == 200, answer.json
        assert len(left) == 1 and left != [token]
