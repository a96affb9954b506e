"""The one reader of JSON request bodies: bounded in size and nesting, then checked by a marshmallow schema.

``request.get_json`` reads a body of any size the server accepts (100 MB) into memory and hands it to a
recursive parser: ``[`` two thousand times was a RecursionError, so a 500, on ``POST /v1/sessions`` before any
sign-in. Here a body larger than Central's own JSON limit (250 kB) is refused before it is read, the nesting
is measured on the raw text before parsing, and strings a database cannot store (NUL, lone surrogates) are
refused with the rest of what is malformed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError

from sync.errors import BadRequest, TooLarge

MAX_JSON_BYTES = 250_000
MAX_JSON_DEPTH = 32
# A string (an unterminated one runs to the end, so the text is scanned once) or a bracket.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]')


def load_json(schema: Schema, what: str) -> dict[str, Any]:
    """The request's JSON object, validated by ``schema``; ``what`` names the body in error messages.

    A body that is not typed as JSON counts as ``{}``, as Central's body parser leaves it, so the schema
    reports the missing fields.
    """
    try:
        return schema.load(_read_json())
    except ValidationError as exc:
        raise BadRequest(f"{what}: {exc.messages}") from exc


def _read_json() -> Any:
    if not request.is_json:
        return {}
    length = request.content_length
    if length is not None and length > MAX_JSON_BYTES:
        raise _too_large()
    raw = request.stream.read(MAX_JSON_BYTES + 1)
    if len(raw) > MAX_JSON_BYTES:
        raise _too_large()
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _unparseable(raw, "it is not UTF-8") from None
    if _depth(text) > MAX_JSON_DEPTH:
        raise BadRequest(f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
    try:
        value = json.loads(text)
    except ValueError as exc:  # also numbers of more digits than Python converts
        raise _unparseable(raw, str(exc)) from None
    _check_strings(value)
    return value


def _depth(text: str) -> int:
    """The deepest nesting of arrays and objects, counting brackets outside strings (stops past the limit)."""
    depth = deepest = 0
    for token in _TOKENS.finditer(text):
        bracket = token.group()
        if bracket[0] == '"':
            continue
        depth += 1 if bracket in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                break
    return deepest


def _check_strings(value: Any) -> None:
    """Refuse NUL and unpaired surrogates in any key or string: no database column can hold them."""
    if isinstance(value, str):
        if "\x00" in value or not _encodable(value):
            raise BadRequest("The JSON body contains a NUL character or an unpaired surrogate (\\u0000, \\ud800).")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key)
            _check_strings(item)
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _too_large() -> TooLarge:
    return TooLarge(f"The JSON body is larger than this server accepts ({MAX_JSON_BYTES:,} bytes).")


def _unparseable(raw: bytes, reason: str) -> BadRequest:
    """Central's 400.1: the data could not be parsed as JSON."""
    return BadRequest(f"Could not parse the given data ({len(raw):,} bytes) as json: {reason}.")
