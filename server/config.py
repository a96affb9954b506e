"""Settings read from ``QINGLING_*`` environment variables, in one place.

Every other module receives a :class:`Settings` object; nothing else reads the environment
(docs/configuration.md lists every field, and a test keeps that list true).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import timedelta
from pathlib import Path

DEFAULT_PORT = 8383
# What we advertise in X-OpenRosa-Accept-Content-Length and enforce as the request body limit:
# one number, so Collect splits its uploads where we really cut (docs/protocol.md §7.4, 7.9).
DEFAULT_MAX_UPLOAD_BYTES = 100_000_000


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(ValueError):
    """Raised at start-up with every invalid variable listed, so an operator fixes them in one go."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("qingling-data")
    database_url: str = ""
    blob_store: str = "local"
    blob_dir: Path | None = None
    s3_bucket: str = ""
    s3_endpoint_url: str = ""
    s3_prefix: str = ""
    s3_region: str = ""
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    public_url: str = ""
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    secret_key: str = field(default="", repr=False)
    threads: int = 8
    default_project_name: str = "Household survey"
    trust_proxy: bool = False
    allow_http_basic: bool = False
    log_level: str = "INFO"
    publish_forms_on_start: bool = True
    # Photo evidence limits (media/evidence.py, docs/media.md 3); docs/domain.md §3.6 asks for 300 m and +/- 1 day.
    photo_max_distance_m: float = 300.0
    photo_max_time_gap_hours: float = 24.0
    photo_camera_utc_offset_hours: float = 8.0
    # The review workspace (docs/review.md): how long a browser sign-in lasts, and how many refused
    # sign-ins in 15 minutes an account or an address may have before further attempts wait.
    session_hours: float = 8.0
    sign_in_attempts: int = 5
    # Lifetime of the presigned URL an original photo on the S3 store redirects to.
    presigned_url_seconds: int = 300
    # The calendar the workspace shows times and filters dates in (China: UTC+8).
    display_utc_offset_hours: float = 8.0
    # Done jobs older than this are pruned by the worker and `qingling jobs prune` (docs/operations.md).
    job_retention_days: int = 30
    # The county's township and village boundaries for the ledger's map (GeoJSON, properties.code = the
    # administrative code); without it the map shows the households alone (docs/ledger.md).
    boundaries_geojson: Path | None = None

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'qingling.db').resolve()}"

    @property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @property
    def parameter_dir(self) -> Path:
        """The county's applied parameter table, laid over the shipped one (docs/ledger.md)."""
        return self.data_dir / "parameters"

    @property
    def job_retention(self) -> timedelta:
        return timedelta(days=self.job_retention_days)

    @property
    def tmp_dir(self) -> Path:
        """Upload spool folder; inside the data dir so spooled files can be renamed into the local store."""
        return self.data_dir / "tmp"


_BOOL_TRUE = {"1", "true", "yes", "on"}
_BOOL_FALSE = {"0", "false", "no", "off", ""}


def _convert(name: str, kind: type | str, raw: str) -> object:
    if kind in (int, "int"):
        return int(raw)
    if kind in (float, "float"):
        return float(raw)
    if kind in (bool, "bool"):
        value = raw.strip().lower()
        if value in _BOOL_TRUE:
            return True
        if value in _BOOL_FALSE:
            return False
        raise ValueError(f"expected true/false, got {raw!r}")
    if kind in (Path, "Path", "Path | None"):
        return Path(raw).expanduser()
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from ``QINGLING_<FIELD>`` variables; ``overrides`` win (CLI flags, tests)."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    errors: list[str] = []
    for f in fields(Settings):
        var = f"QINGLING_{f.name.upper()}"
        if var in environ:
            try:
                values[f.name] = _convert(var, f.type, environ[var])
            except ValueError as exc:
                errors.append(f"{var}: {exc}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    # Unreadable values keep their defaults here, so the checks below still report every other problem.
    settings = Settings(**values)  # type: ignore[arg-type]
    problems = errors + _check(settings)
    if problems:
        raise SettingsError("invalid configuration:\n  " + "\n  ".join(problems))
    return settings


def _check(settings: Settings) -> list[str]:
    problems = []
    if settings.blob_store not in ("local", "s3"):
        problems.append(f"QINGLING_BLOB_STORE: must be 'local' or 's3', got {settings.blob_store!r}")
    if settings.blob_store == "s3" and not settings.s3_bucket:
        problems.append("QINGLING_S3_BUCKET: required when QINGLING_BLOB_STORE=s3")
    # A setting of the store not in use would be ignored without a word: photos would go where the operator
    # did not mean them to (docs/configuration.md, "Blob store").
    if settings.blob_store == "local":
        for name in ("s3_bucket", "s3_endpoint_url", "s3_prefix", "s3_region"):
            if getattr(settings, name):
                problems.append(
                    f"QINGLING_{name.upper()}: set, but QINGLING_BLOB_STORE is 'local', so photos would go to "
                    f"the local folder {settings.resolved_blob_dir} and this setting would be ignored; set "
                    "QINGLING_BLOB_STORE=s3 to use S3, or unset it"
                )
    if settings.blob_store == "s3" and settings.blob_dir is not None:
        problems.append(
            "QINGLING_BLOB_DIR: set, but QINGLING_BLOB_STORE is 's3', so it would be ignored; unset it, or set "
            "QINGLING_BLOB_STORE=local to keep photos in that folder"
        )
    if settings.max_upload_bytes < 1_000_000:
        problems.append("QINGLING_MAX_UPLOAD_BYTES: must be at least 1000000")
    if not 1 <= settings.port <= 65535:
        problems.append("QINGLING_PORT: must be between 1 and 65535")
    if settings.public_url and not settings.public_url.startswith(("http://", "https://")):
        problems.append("QINGLING_PUBLIC_URL: must start with http:// or https://")
    if settings.log_level.upper() not in LOG_LEVELS:
        problems.append(f"QINGLING_LOG_LEVEL: must be one of {', '.join(LOG_LEVELS)}, got {settings.log_level!r}")
    if not settings.photo_max_distance_m > 0:
        problems.append("QINGLING_PHOTO_MAX_DISTANCE_M: must be a positive number of metres")
    if not settings.photo_max_time_gap_hours >= 0:
        problems.append("QINGLING_PHOTO_MAX_TIME_GAP_HOURS: must be zero or more hours")
    if not -14 <= settings.photo_camera_utc_offset_hours <= 14:
        problems.append("QINGLING_PHOTO_CAMERA_UTC_OFFSET_HOURS: must be between -14 and 14")
    if not 0 < settings.session_hours <= 24 * 30:
        problems.append("QINGLING_SESSION_HOURS: must be more than 0 and at most 720 hours")
    if settings.sign_in_attempts < 1:
        problems.append("QINGLING_SIGN_IN_ATTEMPTS: must be at least 1")
    if not -14 <= settings.display_utc_offset_hours <= 14:
        problems.append("QINGLING_DISPLAY_UTC_OFFSET_HOURS: must be between -14 and 14")
    if not 10 <= settings.presigned_url_seconds <= 7 * 24 * 3600:
        problems.append("QINGLING_PRESIGNED_URL_SECONDS: must be between 10 and 604800")
    if not settings.job_retention_days >= 1:
        problems.append("QINGLING_JOB_RETENTION_DAYS: must be a whole number of days, at least 1")
    if settings.boundaries_geojson is not None and not settings.boundaries_geojson.is_file():
        problems.append(f"QINGLING_BOUNDARIES_GEOJSON: no such file {settings.boundaries_geojson}")
    return problems


def ensure_secret_key(settings: Settings, *, create: bool = True) -> str:
    """The configured secret, or one generated once and kept in the data dir (sessions survive restarts).

    With ``create=False`` (commands that never serve HTTP) nothing is written: a missing key file gives a
    key for this process only, which nothing it does outlives.
    """
    if settings.secret_key:
        return settings.secret_key
    path = settings.data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    if not create:
        return key
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(key)
    path.chmod(0o600)
    return key
