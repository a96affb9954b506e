"""The settings QR code ODK Collect's "Configure with QR code" reads (docs/protocol.md §11).

Compact JSON -> zlib (with header) -> standard base64: Collect reverses the three steps. The app-user
URL carries the token, so the phone needs no username or password, as with Central's app users.
"""

from __future__ import annotations

import base64
import json
import zlib

import segno


def collect_settings(server_url: str, project_name: str) -> dict:
    return {
        "general": {
            "server_url": server_url,
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": project_name, "icon": project_name[:1] or "Q", "color": "#2e7d32"},
    }


def encode_settings(settings: dict) -> str:
    text = json.dumps(settings, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(zlib.compress(text.encode("utf-8"))).decode("ascii")


def decode_settings(payload: str) -> dict:
    return json.loads(zlib.decompress(base64.b64decode(payload)).decode("utf-8"))


def terminal_qr(payload: str) -> str:
    """The QR code drawn with block characters, for the start-up banner."""
    import io

    out = io.StringIO()
    segno.make(payload, error="l", micro=False).terminal(out=out, compact=True, border=2)
    return out.getvalue()


def svg_qr(payload: str) -> str:
    """The QR code as inline SVG, for the phones page (no image file, no script)."""
    return segno.make(payload, error="l", micro=False).svg_inline(scale=4, border=2)
