"""The multipart reader keeps a request's parts within a fixed memory budget and its spooled files closed."""

from __future__ import annotations

import os

from flask import request

from server.uploads import REQUEST_MEMORY, SPOOL_THRESHOLD
from tests.collect import Multipart, Part


def test_many_parts_stay_within_the_memory_budget_and_hold_no_file_open(app) -> None:
    datas = [bytes([n]) * (SPOOL_THRESHOLD // 2) for n in range(40)]  # each small enough to stay in memory alone
    multipart = Multipart([Part(f"p{n}.jpg", data, "image/jpeg", f"p{n}.jpg") for n, data in enumerate(datas)])
    with app.test_request_context("/", method="POST", data=multipart.body(), content_type=multipart.content_type):
        open_before = len(os.listdir("/proc/self/fd"))
        spools = [storage.stream for storage in request.files.values()]
        assert len(os.listdir("/proc/self/fd")) == open_before
        in_memory = [spool.getvalue() for spool in spools if spool.getvalue() is not None]
        assert 0 < sum(len(value) for value in in_memory) <= REQUEST_MEMORY
        assert len(in_memory) < len(spools)  # the rest went to disk ...
        assert [spool.read() for spool in spools] == datas  # ... and reads back whole
        assert [spool.size for spool in spools] == [len(data) for data in datas]
        for spool in spools:
            spool.discard()
