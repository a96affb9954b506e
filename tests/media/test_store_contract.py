"""One contract, two stores: every test runs against LocalStore and against S3Store on a real moto server."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from media.store import (
    BlobNotFound,
    BlobStore,
    InvalidKey,
    LocalStore,
    S3Store,
    StoreUnavailable,
    blob_key,
    make_store,
    thumbnail_key,
)
from tests.media.s3_server import MotoServer

MIB = 1024 * 1024
SMALL_PARTS = {"multipart_threshold": 5 * MIB, "multipart_chunksize": 5 * MIB}  # 5 MiB: S3's minimum part
REPO = Path(__file__).resolve().parents[2]


@dataclass
class StoreCase:
    """A store kind under test: how to build it here and how a child process can build the same store."""

    kind: str
    options: dict[str, Any]
    multipart_options: dict[str, Any] = field(default_factory=dict)

    def build(self, *, multipart: bool = False) -> BlobStore:
        return make_store(self.kind, **self.spec(multipart=multipart)["options"])

    def spec(self, *, multipart: bool = False) -> dict[str, Any]:
        extra = self.multipart_options if multipart else {}
        return {"kind": self.kind, "options": {**self.options, **extra}}


@pytest.fixture(params=["local", "s3"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    if request.param == "local":
        return StoreCase("local", {"root": str(tmp_path / "blobs")})
    endpoint = request.getfixturevalue("s3_server")
    options = {
        "bucket": request.getfixturevalue("s3_bucket"),
        "endpoint_url": endpoint,
        "prefix": request.getfixturevalue("s3_prefix"),
    }
    return StoreCase("s3", options, SMALL_PARTS)


@pytest.fixture
def store(case: StoreCase) -> BlobStore:
    return case.build()


def random_bytes(size: int, seed: int = 0) -> bytes:
    return hashlib.shake_256(seed.to_bytes(8, "big")).digest(size)


def test_put_bytes_then_read_back(store: BlobStore) -> None:
    data = random_bytes(70_000)
    key = blob_key(hashlib.sha256(data).hexdigest())
    assert not store.exists(key)
    store.put_bytes(key, data, content_type="image/jpeg")
    assert store.exists(key)
    assert store.size(key) == len(data)
    with store.open(key) as handle:
        assert handle.read() == data


def test_put_path_copies_unless_asked_to_move(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "upload.jpg"
    source.write_bytes(random_bytes(10_000, seed=1))
    store.put_path("blobs/copied", source, content_type="image/jpeg")
    assert source.exists(), "a plain put must leave the source alone"
    store.put_path("blobs/moved", source, content_type="image/jpeg", move=True)
    assert not source.exists(), "move=True consumes the source"
    for key in ("blobs/copied", "blobs/moved"):
        with store.open(key) as handle:
            assert handle.read() == random_bytes(10_000, seed=1)


def test_open_streams_in_pieces(store: BlobStore) -> None:
    data = random_bytes(3 * MIB + 17, seed=2)
    store.put_bytes("exports/big.bin", data)
    pieces = []
    with store.open("exports/big.bin") as handle:
        while piece := handle.read(100_000):
            assert len(piece) <= 100_000
            pieces.append(piece)
    assert len(pieces) > 30
    assert b"".join(pieces) == data


def test_missing_blob(store: BlobStore) -> None:
    key = blob_key("0" * 64)
    assert not store.exists(key)
    assert store.size(key) is None
    with pytest.raises(BlobNotFound):
        store.open(key)
    with pytest.raises(FileNotFoundError):  # callers may catch the builtin
        store.open(key)
    store.delete(key)  # deleting an absent blob is not an error


def test_delete_removes_only_that_blob(store: BlobStore) -> None:
    store.put_bytes("blobs/a", b"a")
    store.put_bytes("blobs/b", b"b")
    store.delete("blobs/a")
    assert not store.exists("blobs/a")
    with pytest.raises(BlobNotFound):
        store.open("blobs/a")
    assert store.exists("blobs/b")
    assert sorted(store.keys()) == ["blobs/b"]


def test_keys_lists_by_prefix(store: BlobStore) -> None:
    digests = [hashlib.sha256(bytes([i])).hexdigest() for i in range(5)]
    for digest in digests:
        store.put_bytes(blob_key(digest), b"x")
    store.put_bytes(thumbnail_key(digests[0], 256), b"thumb")
    store.put_bytes("exports/2024/households.csv", b"csv")
    assert sorted(store.keys("blobs/")) == sorted(blob_key(d) for d in digests)
    assert list(store.keys("thumbnails/256/")) == [thumbnail_key(digests[0], 256)]
    assert sorted(store.keys(f"blobs/{digests[1][:2]}")) == [blob_key(digests[1])]
    assert sorted(store.keys("exp")) == ["exports/2024/households.csv"]
    assert len(list(store.keys())) == 7
    assert list(store.keys("nothing/")) == []


def test_put_is_idempotent(store: BlobStore, tmp_path: Path) -> None:
    data = random_bytes(5_000, seed=3)
    key = blob_key(hashlib.sha256(data).hexdigest())
    store.put_bytes(key, data)
    store.put_bytes(key, data)
    source = tmp_path / "again"
    source.write_bytes(data)
    store.put_path(key, source, move=True)
    assert list(store.keys()) == [key]
    with store.open(key) as handle:
        assert handle.read() == data


@pytest.mark.parametrize(
    "key",
    ["", "/etc/passwd", "../outside", "blobs/../../outside", "blobs//x", "blobs/./x", "blobs/x/", ".hidden",
     "blobs/.x.tmp-1", "a\\b", "a b", "a\x00b", "x" * 1100],
)  # fmt: skip
def test_keys_with_path_tricks_are_refused(store: BlobStore, key: str, tmp_path: Path) -> None:
    before = sorted(p for p in tmp_path.rglob("*"))
    with pytest.raises(InvalidKey):
        store.put_bytes(key, b"x")
    with pytest.raises(ValueError):  # InvalidKey is a ValueError for writers ...
        store.put_bytes(key, b"x")
    with pytest.raises(BlobNotFound):  # ... and "not found" for readers
        store.open(key)
    assert sorted(p for p in tmp_path.rglob("*")) == before
    assert list(store.keys()) == []


def test_large_object_goes_up_in_parts(case: StoreCase) -> None:
    store = case.build(multipart=True)
    data = random_bytes(11 * MIB, seed=4)
    store.put_bytes("exports/large.bin", data)
    assert store.size("exports/large.bin") == len(data)
    with store.open("exports/large.bin") as handle:
        assert hashlib.sha256(handle.read()).digest() == hashlib.sha256(data).digest()
    url = store.presigned_url("exports/large.bin")
    if case.kind == "s3":
        # A multipart object's ETag is "<md5 of part md5s>-<part count>": 11 MiB in 5 MiB parts is 3.
        etag = requests.get(url, timeout=10).headers["ETag"]
        assert etag.strip('"').endswith("-3")


def test_presigned_url_serves_the_blob(case: StoreCase, store: BlobStore) -> None:
    data = random_bytes(20_000, seed=5)
    store.put_bytes("blobs/photo", data, content_type="image/jpeg")
    url = store.presigned_url("blobs/photo", expires=60, filename="房屋正面.jpg")
    assert store.signs_urls == (case.kind == "s3")
    if case.kind == "local":
        assert url is None  # the app streams local blobs itself
        return
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["Content-Type"] == "image/jpeg"
    assert (
        "filename*=UTF-8''%E6%88%BF%E5%B1%8B%E6%AD%A3%E9%9D%A2.jpg" in response.headers["Content-Disposition"]
    )
    forced = store.presigned_url("blobs/photo", content_type="application/octet-stream")
    assert requests.get(forced, timeout=10).headers["Content-Type"] == "application/octet-stream"
    tampered = url.replace("blobs/photo", "blobs/other")
    assert requests.get(tampered, timeout=10).status_code in (403, 404)


WRITER = """
import json, sys
from pathlib import Path
from media.store import make_store
spec = json.loads(sys.argv[1])
make_store(spec["kind"], **spec["options"]).put_path(spec["key"], Path(spec["source"]))
print("finished", flush=True)
"""


def test_writer_killed_mid_write_leaves_nothing_under_the_key(case: StoreCase, tmp_path: Path) -> None:
    """A writer process is SIGKILLed while its bytes are half uploaded: the key must stay absent.

    The source is a FIFO, so the writer has provably read (and stored) the first 7 MiB and is blocked
    waiting for the rest when it dies; on S3 that is one 5 MiB part of a multipart upload already sent.
    """
    store = case.build(multipart=True)
    key = "blobs/partial"
    fifo = tmp_path / "upload.fifo"
    os.mkfifo(fifo)
    spec = {**case.spec(multipart=True), "key": key, "source": str(fifo)}
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, json.dumps(spec)], cwd=REPO, stdout=subprocess.PIPE
    )
    try:
        fd = _open_fifo_for_writing(fifo, writer)
        os.write(fd, random_bytes(7 * MIB, seed=6))
        written_enough = 5 * MIB
        _wait_until(
            lambda: sum(p.bytes_written for p in store.partial_writes()) >= written_enough, timeout=30
        )
        assert not store.exists(key), "nothing may be visible while the write is in progress"
    finally:
        writer.kill()
        output, _ = writer.communicate(timeout=10)
    os.close(fd)
    assert output == b"", "the writer must have died before finishing"
    assert not store.exists(key)
    assert store.size(key) is None
    assert list(store.keys()) == []
    with pytest.raises(BlobNotFound):
        store.open(key)
    [partial] = store.partial_writes()
    assert partial.key == key
    if case.kind == "local":  # moto reports every multipart upload as initiated in 2010, so only here
        assert store.remove_partial_writes(older_than=3600) == 0  # too recent to sweep
    assert store.remove_partial_writes(older_than=0) == 1
    assert store.partial_writes() == []
    store.put_bytes(key, b"complete")  # the key is usable afterwards
    assert store.size(key) == len(b"complete")


def test_failed_put_leaves_nothing_behind(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        store.put_path("blobs/ghost", tmp_path / "does-not-exist")
    with pytest.raises(IsADirectoryError):
        store.put_path("blobs/ghost", tmp_path)
    assert not store.exists("blobs/ghost")
    assert list(store.keys()) == []
    assert store.partial_writes() == []


@pytest.fixture
def dying_store(case: StoreCase, tmp_path: Path) -> Iterator[tuple[BlobStore, Callable[[], None]]]:
    """A store plus a function that takes its backend away: kill its own moto server, or drop the folder."""
    if case.kind == "local":
        root = tmp_path / "volume"
        yield LocalStore(root), lambda: root.rename(tmp_path / "unmounted")
        return
    server = MotoServer()
    store = S3Store("dying", endpoint_url=server.endpoint_url)
    store.ensure_bucket()
    yield store, server.stop
    server.stop()


def test_store_that_goes_away_fails_fast_with_store_unavailable(
    dying_store: tuple[BlobStore, Callable[[], None]], tmp_path: Path
) -> None:
    store, take_away = dying_store
    store.put_bytes("blobs/kept", b"before")
    assert store.exists("blobs/kept")
    source = tmp_path / "photo.jpg"
    source.write_bytes(b"after")
    take_away()
    operations: dict[str, Callable[[], object]] = {
        "put_bytes": lambda: store.put_bytes("blobs/new", b"x"),
        "put_path": lambda: store.put_path("blobs/new", source, move=True),
        "open": lambda: store.open("blobs/kept").read(),
        "exists": lambda: store.exists("blobs/kept"),
        "size": lambda: store.size("blobs/kept"),
        "delete": lambda: store.delete("blobs/kept"),
        "keys": lambda: list(store.keys()),
    }
    for name, operation in operations.items():
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            operation()
        elapsed = time.monotonic() - started
        assert elapsed < 5, f"{name} took {elapsed:.1f}s to give up"
    assert source.exists(), "a failed move must not consume the source"


def test_blob_key_layout() -> None:
    digest = hashlib.sha256(b"photo").hexdigest()
    assert blob_key(digest) == f"blobs/{digest[:2]}/{digest[2:4]}/{digest}"
    assert blob_key(digest.upper()) == blob_key(digest)
    assert thumbnail_key(digest, 256) == f"thumbnails/256/{digest[:2]}/{digest[2:4]}/{digest}"
    with pytest.raises(ValueError):
        blob_key("not-a-digest")
    with pytest.raises(ValueError):
        blob_key(digest, kind="../x")


def test_make_store_rejects_unknown_kinds_and_options(tmp_path: Path) -> None:
    assert isinstance(make_store("local", root=tmp_path), LocalStore)
    with pytest.raises(ValueError, match="unknown blob store kind"):
        make_store("ftp", root=tmp_path)
    with pytest.raises(TypeError):
        make_store("s3", bucket="b", colour="red")
    with pytest.raises(ValueError):
        make_store("s3", bucket="")


def _open_fifo_for_writing(fifo: Path, writer: subprocess.Popen[bytes]) -> int:
    """Open the FIFO once the writer has opened its end; fail instead of blocking if the writer died."""
    deadline = time.monotonic() + 30
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            if writer.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"writer process never opened the FIFO (exit {writer.returncode})"
                ) from None
            time.sleep(0.02)
            continue
        os.set_blocking(fd, True)
        return fd


def _wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)
