"""The multipart reader keeps a request's parts within a fixed memory budget and its spooled files closed."""

from __future__ import annotations

import os

from flask import request
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# -- the decoder without per-boundary regular expressions (server/uploads.py: _Decoder) ---------------------------

BOUNDARY = b"6f1c-4a2b"
FRAGMENTS = [
    b"\r\n", b"\r", b"\n", b"--", b" ", b"\t", b"x", b"-" + BOUNDARY, b"--" + BOUNDARY, b"--" + BOUNDARY + b"--",
    b'Content-Disposition: form-data; name="a"; filename="a.jpg"', b'Content-Disposition: form-data; name="f"',
    b"Content-Type: image/jpeg", b"\r\n\r\n", b"\n\n", BOUNDARY[:4],
]


def _events(decoder_class, body: bytes, chunk: int) -> list:
    from werkzeug.sansio.multipart import Epilogue, NeedData

    decoder = decoder_class(BOUNDARY, max_form_memory_size=None)
    seen: list = []
    try:
        for at in [*range(0, len(body), chunk), None]:
            decoder.receive_data(None if at is None else body[at : at + chunk])
            event = decoder.next_event()
            while not isinstance(event, NeedData):
                seen.append((type(event).__name__, repr(event)))
                if isinstance(event, Epilogue):
                    return seen
                event = decoder.next_event()
    except ValueError as exc:
        seen.append(("ValueError", str(exc)))
    return seen


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(st.sampled_from(FRAGMENTS), max_size=40),
    chunk=st.integers(min_value=1, max_value=64),
)
def test_the_decoder_finds_the_same_parts_as_werkzeugs_own(pieces: list[bytes], chunk: int) -> None:
    from werkzeug.sansio.multipart import MultipartDecoder

    from server.uploads import _Decoder

    body = b"".join(pieces)
    assert _events(_Decoder, body, chunk) == _events(MultipartDecoder, body, chunk)


def test_the_decoder_reads_a_collect_body_as_werkzeug_does() -> None:
    from werkzeug.sansio.multipart import MultipartDecoder

    from server.uploads import _Decoder

    multipart = Multipart(
        [
            Part("xml_submission_file", b"<data/>", "text/xml", "s.xml"),
            Part("a.jpg", b"\xff" * 9000, "image/jpeg", "a.jpg"),
        ]
    )
    boundary = multipart.content_type.partition("boundary=")[2].encode()
    for chunk in (1, 7, 64 * 1024):
        got, want = [], []
        for cls, out in ((_Decoder, got), (MultipartDecoder, want)):
            decoder = cls(boundary)
            body = multipart.body()
            for at in [*range(0, len(body), chunk), None]:
                decoder.receive_data(None if at is None else body[at : at + chunk])
                while type(event := decoder.next_event()).__name__ != "NeedData":
                    out.append(repr(event))
                    if type(event).__name__ == "Epilogue":
                        break
        assert got == want and len(got) >= 5
