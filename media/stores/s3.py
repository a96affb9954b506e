"""A blob store in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...) through boto3.

The only module of the project that imports boto3. Every vendor error is translated at this boundary:
a missing object becomes BlobNotFound, anything else that goes wrong talking to the endpoint (refused
connection, timeout, dropped stream, throttling, access denied, missing bucket) becomes StoreUnavailable,
which the server answers with 503 so Collect retries later instead of losing a photo.

Timeouts are short and retries few on purpose: a dead endpoint must fail a request in seconds, not hang a
server thread for the minutes boto3's defaults allow (60 s connect and read timeouts, up to 5 attempts).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import boto3
import botocore.exceptions
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from media.stores.base import BlobNotFound, PartialWrite, StoreUnavailable, check_key, check_prefix

MIB = 1024 * 1024
_NOT_FOUND = {"NoSuchKey", "404", "NotFound"}
_TRANSPORT_ERRORS = (botocore.exceptions.BotoCoreError, S3UploadFailedError, RetriesExceededError)


class S3Store:
    """Blobs as objects in ``bucket``, every key under ``prefix``.

    Credentials come from boto3's usual chain (environment, shared config files, instance role); nothing
    here reads them. ``public_endpoint_url`` is the address browsers use for presigned URLs when it differs
    from the one the server talks to (for example MinIO on a private network behind a public proxy).
    Objects larger than ``multipart_threshold`` go up as multipart uploads of ``multipart_chunksize``
    parts (S3 needs at least 5 MiB per part), ``max_concurrency`` parts at a time.
    """

    signs_urls = True

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        prefix: str = "",
        region: str | None = None,
        public_endpoint_url: str | None = None,
        addressing_style: str | None = None,
        connect_timeout: float = 2.0,
        read_timeout: float = 15.0,
        max_attempts: int = 2,
        multipart_threshold: int = 16 * MIB,
        multipart_chunksize: int = 8 * MIB,
        max_concurrency: int = 4,
        checksums: str = "when_required",
    ) -> None:
        if not bucket:
            raise ValueError("S3Store needs a bucket name")
        self.bucket = bucket
        self.prefix = _normalize_prefix(prefix)
        self.endpoint_url = endpoint_url
        # Custom endpoints (MinIO, moto, Ceph) are usually reached by IP or a single host name, where
        # virtual-hosted bucket names cannot resolve; AWS itself prefers virtual-hosted style.
        style = addressing_style or ("path" if endpoint_url else "auto")
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": style},
            signature_version="s3v4",
            # Newer boto3 adds CRC checksums to every request by default; several S3-compatible servers
            # reject them, so they are sent only where the API demands them unless configured otherwise.
            request_checksum_calculation=checksums,
            response_checksum_validation=checksums,
        )
        session = boto3.session.Session()
        self._client = session.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
        self._presigner = (
            session.client("s3", endpoint_url=public_endpoint_url, region_name=region, config=config)
            if public_endpoint_url
            else self._client
        )
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=max_concurrency,
            use_threads=max_concurrency > 1,
        )

    def __repr__(self) -> str:
        return f"S3Store(bucket={self.bucket!r}, prefix={self.prefix!r}, endpoint_url={self.endpoint_url!r})"

    # -- writes -------------------------------------------------------------------------------------------

    def put_path(
        self,
        key: str,
        path: Path,
        *,
        content_type: str = "application/octet-stream",
        move: bool = False,
    ) -> None:
        """Upload the file at ``path``; with ``move=True`` the source is deleted once the object exists.

        S3 makes an object visible only when its single PUT or its CompleteMultipartUpload succeeds, so a
        failed upload never leaves a partial object under the key (an abandoned multipart upload may remain:
        see ``partial_writes``). The file is streamed, never read whole into memory.
        """
        full = self._full_key(key)
        with open(path, "rb") as handle:
            self._upload(full, handle, content_type)
        if move:
            Path(path).unlink(missing_ok=True)

    def put_bytes(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> None:
        self._upload(self._full_key(key), io.BytesIO(data), content_type)

    def delete(self, key: str) -> None:
        full = self._full_key(key)
        with _translated(key):
            self._client.delete_object(Bucket=self.bucket, Key=full)

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet (for development servers; production buckets exist)."""
        with _translated(self.bucket):
            try:
                self._client.head_bucket(Bucket=self.bucket)
                return
            except botocore.exceptions.ClientError as exc:
                if _error_code(exc) not in _NOT_FOUND | {"NoSuchBucket"}:
                    raise
            region = self._client.meta.region_name
            if region and region != "us-east-1":
                self._client.create_bucket(
                    Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": region}
                )
            else:
                self._client.create_bucket(Bucket=self.bucket)

    # -- reads --------------------------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        full = self._full_key(key)
        with _translated(key):
            response = self._client.get_object(Bucket=self.bucket, Key=full)
        return io.BufferedReader(_BodyReader(response["Body"], key), buffer_size=256 * 1024)  # type: ignore[return-value]

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        full = self._full_key(key)
        try:
            with _translated(key):
                response = self._client.head_object(Bucket=self.bucket, Key=full)
        except BlobNotFound:
            return None
        return int(response["ContentLength"])

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` in S3's (lexicographic) order, 1,000 per listing request."""
        check_prefix(prefix)
        paginator = self._client.get_paginator("list_objects_v2")
        with _translated(prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for item in page.get("Contents", ()):
                    yield item["Key"][len(self.prefix) :]

    def presigned_url(
        self,
        key: str,
        *,
        expires: int = 300,
        filename: str | None = None,
        content_type: str | None = None,
        attachment: bool = False,
    ) -> str:
        """A GET URL valid for ``expires`` seconds; computed locally, it does not contact the endpoint.

        ``filename`` sets Content-Disposition (inline, so browsers show photos, or ``attachment``, so they
        save the file; with an RFC 6266 UTF-8 name) and ``content_type`` overrides the stored Content-Type in
        the response.
        """
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self._full_key(key)}
        if filename:
            kind = "attachment" if attachment else "inline"
            params["ResponseContentDisposition"] = _content_disposition(filename, kind)
        if content_type:
            params["ResponseContentType"] = content_type
        with _translated(key):
            return self._presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)

    # -- partial writes -----------------------------------------------------------------------------------

    def partial_writes(self, prefix: str = "") -> list[PartialWrite]:
        """Multipart uploads that were started and neither completed nor aborted, with bytes uploaded."""
        check_prefix(prefix)
        found = []
        with _translated(prefix):
            for upload in self._incomplete_uploads(self.prefix + prefix):
                parts = self._client.get_paginator("list_parts").paginate(
                    Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                )
                written = sum(part["Size"] for page in parts for part in page.get("Parts", ()))
                found.append(
                    PartialWrite(
                        key=upload["Key"][len(self.prefix) :],
                        started=upload["Initiated"],
                        bytes_written=written,
                    )
                )
        return found

    def remove_partial_writes(self, older_than: float = 86400.0) -> int:
        """Abort multipart uploads started more than ``older_than`` seconds ago.

        A bucket lifecycle rule (AbortIncompleteMultipartUpload) does the same on AWS; this is for
        servers without lifecycle support and for the ``older_than=0`` case in tests.
        """
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than)
        removed = 0
        with _translated(self.prefix):
            for upload in list(self._incomplete_uploads(self.prefix)):
                if upload["Initiated"] <= cutoff:
                    self._client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    removed += 1
        return removed

    # -- internals ----------------------------------------------------------------------------------------

    def _full_key(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _upload(self, full_key: str, handle: BinaryIO, content_type: str) -> None:
        with _translated(full_key):
            self._client.upload_fileobj(
                handle,
                self.bucket,
                full_key,
                ExtraArgs={"ContentType": content_type},
                Config=self._transfer,
            )

    def _incomplete_uploads(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self._client.get_paginator("list_multipart_uploads")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Uploads", ())


class _BodyReader(io.RawIOBase):
    """botocore's StreamingBody as a raw stream whose transport errors surface as StoreUnavailable."""

    def __init__(self, body: Any, key: str) -> None:
        self._body = body
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with _translated(self._key):
            data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class _translated:
    """Context manager mapping boto3/botocore exceptions to the store's two errors."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, _tb: object) -> bool:
        if exc is None:
            return False
        if isinstance(exc, botocore.exceptions.ClientError):
            code = _error_code(exc)
            if code in _NOT_FOUND:
                raise BlobNotFound(self.what) from exc
            raise StoreUnavailable(f"S3 refused the request for {self.what}: {code} {exc}") from exc
        if isinstance(exc, _TRANSPORT_ERRORS):
            raise StoreUnavailable(f"S3 endpoint failed for {self.what}: {exc}") from exc
        return False


def _error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _normalize_prefix(prefix: str) -> str:
    """``"tenant/"`` from ``"tenant"``, ``"/tenant/"`` or ``"tenant/"``; empty stays empty."""
    stripped = prefix.strip("/")
    if not stripped:
        return ""
    check_key(stripped)
    return stripped + "/"


def _content_disposition(filename: str, kind: str) -> str:
    fallback = filename.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
