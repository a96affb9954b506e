"""Settings come from QINGLING_* variables: every one is documented, and a bad start lists every mistake."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from server.cli import main
from server.config import Settings, SettingsError, load_settings
from tests.protocol.test_concurrency import QINGLING

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
ROW = re.compile(r"^\|\s*`(QINGLING_[A-Z0-9_]+)`\s*\|([^|]*)\|", re.MULTILINE)
# One value per field type that the type cannot read.
UNREADABLE = {"int": "twelve", "float": "far", "bool": "perhaps"}


def documented() -> dict[str, str]:
    """Variable -> the default column of docs/configuration.md's table."""
    return {name: default.strip() for name, default in ROW.findall(DOC.read_text(encoding="utf-8"))}


def variable(name: str) -> str:
    return f"QINGLING_{name.upper()}"


def test_every_setting_is_documented_and_every_documented_variable_is_a_setting() -> None:
    in_code = {variable(f.name) for f in fields(Settings)}
    in_doc = set(documented())
    assert sorted(in_code - in_doc) == [], "settings missing from docs/configuration.md"
    assert sorted(in_doc - in_code) == [], "docs/configuration.md names variables that Settings does not read"


def test_documented_defaults_are_the_real_defaults() -> None:
    """Where the table gives a literal default (in backticks), it is what an unset variable gives."""
    table = documented()
    checked = 0
    for f in fields(Settings):
        cell = table[variable(f.name)]
        literal = re.fullmatch(r"`([^`<>]*)`", cell)
        if literal is None:  # empty, or prose such as "SQLite in the data dir"
            if cell == "":
                assert f.default in ("", None), f"{variable(f.name)}: documented without a default"
            continue
        assert f.default is not MISSING
        assert _as_written(f.default) == literal.group(1), variable(f.name)
        checked += 1
    assert checked >= 10


def _as_written(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_no_variables_gives_the_embedded_default() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("/qingling-data/qingling.db")
    assert settings.resolved_blob_dir == Path("qingling-data") / "blobs"


def test_values_are_read_as_operators_write_them(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "QINGLING_PORT": "9000",
            "QINGLING_ALLOW_HTTP_BASIC": "yes",
            "QINGLING_TRUST_PROXY": "ON",
            "QINGLING_PUBLISH_FORMS_ON_START": "0",
            "QINGLING_DATA_DIR": "~/survey-data",
            "QINGLING_BLOB_DIR": str(tmp_path / "photos"),
            "QINGLING_UNKNOWN_THING": "ignored",
            "PORT": "1",
        }
    )
    assert settings.port == 9000
    assert settings.allow_http_basic is True and settings.trust_proxy is True
    assert settings.publish_forms_on_start is False
    assert settings.data_dir == Path.home() / "survey-data"
    assert settings.resolved_blob_dir == tmp_path / "photos"


def test_command_line_options_win_over_the_environment() -> None:
    settings = load_settings({"QINGLING_PORT": "9000", "QINGLING_HOST": "10.0.0.1"}, port=8080, host=None)
    assert (settings.host, settings.port) == ("10.0.0.1", 8080)


def test_every_unreadable_value_is_listed_at_once() -> None:
    typed = [f for f in fields(Settings) if f.type in UNREADABLE]
    assert {"QINGLING_PORT", "QINGLING_THREADS", "QINGLING_ALLOW_HTTP_BASIC"} <= {variable(f.name) for f in typed}
    environ = {variable(f.name): UNREADABLE[str(f.type)] for f in typed}

    with pytest.raises(SettingsError) as raised:
        load_settings(environ)

    lines = str(raised.value).splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == list(environ)
    for line, value in zip(lines, environ.values(), strict=True):
        assert repr(value) in line  # the operator sees what was wrong, not only where


def test_every_inconsistent_value_is_listed_at_once() -> None:
    environ = {
        "QINGLING_BLOB_STORE": "ftp",
        "QINGLING_MAX_UPLOAD_BYTES": "1000",
        "QINGLING_PORT": "70000",
        "QINGLING_PUBLIC_URL": "phones.example.org",
        "QINGLING_JOB_RETENTION_DAYS": "0",
    }
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    message = str(raised.value)
    for name in environ:
        assert f"{name}:" in message
    assert "'ftp'" in message


def test_s3_store_needs_a_bucket() -> None:
    with pytest.raises(SettingsError, match="QINGLING_S3_BUCKET: required"):
        load_settings({"QINGLING_BLOB_STORE": "s3"})
    assert load_settings({"QINGLING_BLOB_STORE": "s3", "QINGLING_S3_BUCKET": "photos"}).s3_bucket == "photos"


@pytest.mark.parametrize(
    "variable", ["QINGLING_S3_BUCKET", "QINGLING_S3_ENDPOINT_URL", "QINGLING_S3_PREFIX", "QINGLING_S3_REGION"]
)
def test_an_s3_setting_with_the_local_store_is_an_error_not_ignored(variable: str) -> None:
    """Photos must not go to the local folder while the operator believes they go to the named bucket."""
    with pytest.raises(SettingsError) as raised:
        load_settings({variable: "photos"})
    (line,) = str(raised.value).splitlines()[1:]
    assert line.strip().startswith(f"{variable}: set, but QINGLING_BLOB_STORE is 'local'")
    assert "QINGLING_BLOB_STORE=s3" in line
    with_s3 = {variable: "photos", "QINGLING_BLOB_STORE": "s3", "QINGLING_S3_BUCKET": "b"}
    assert load_settings(with_s3).blob_store == "s3"
    assert load_settings({variable: ""}).blob_store == "local"  # an empty variable is no setting


def test_a_blob_folder_with_the_s3_store_is_an_error_not_ignored(tmp_path: Path) -> None:
    environ = {"QINGLING_BLOB_STORE": "s3", "QINGLING_S3_BUCKET": "photos", "QINGLING_BLOB_DIR": str(tmp_path)}
    with pytest.raises(SettingsError, match="QINGLING_BLOB_DIR: set, but QINGLING_BLOB_STORE is 's3'"):
        load_settings(environ)


def test_serve_refuses_to_start_with_a_bucket_and_the_local_store(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QINGLING_")}
    env |= {"QINGLING_DATA_DIR": str(tmp_path / "data"), "QINGLING_S3_BUCKET": "survey-photos"}

    # A process with a time limit: a server that started anyway must fail the test, not hang it.
    result = subprocess.run(
        [str(QINGLING), "serve", "--host", "127.0.0.1", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )

    assert result.returncode == 1
    assert "invalid configuration" in result.stderr and "QINGLING_S3_BUCKET: set, but" in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("command", [["serve", "--host", "127.0.0.1"], ["db", "upgrade"], ["qr"]])
def test_commands_refuse_to_start_with_the_whole_list(command: list[str], tmp_path: Path) -> None:
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("QINGLING_")}
    env |= {"QINGLING_DATA_DIR": str(tmp_path / "data"), "QINGLING_PORT": "http", "QINGLING_THREADS": "eight"}

    result = CliRunner().invoke(main, command, env=env)

    assert result.exit_code == 1
    assert "invalid configuration" in result.output
    assert "QINGLING_PORT" in result.output and "QINGLING_THREADS" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "data").exists()  # nothing was created before the check


def test_unreadable_and_inconsistent_values_are_listed_together() -> None:
    environ = {"QINGLING_PORT": "abc", "QINGLING_BLOB_STORE": "ftp", "QINGLING_LOG_LEVEL": "LOUD"}
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    lines = [line.split(":")[0].strip() for line in str(raised.value).splitlines()[1:]]
    assert sorted(lines) == sorted(environ)


def test_log_level_is_read_in_any_case() -> None:
    assert load_settings({"QINGLING_LOG_LEVEL": "debug"}).log_level == "debug"
