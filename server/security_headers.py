"""Headers that keep browsers from running what the server stores, on every response.

Review pages will share this origin with the API and with the photos phones upload, so a stored file
must never run as a page: every response says ``nosniff`` (a browser takes the declared type, never a
guessed one) and carries a Content-Security-Policy. Pages and their assets come from the app itself, so
``'self'`` is the policy of everything the app renders; stored files (attachments, form media, submission
XML) get a sandbox with no script at all.
"""

from __future__ import annotations

from flask import Response

APP_POLICY = "default-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"
# The form preview page runs ODK Web Forms (server/static/webforms/, docs/forms.md §11), which needs three
# things the app's policy refuses, on that page only: 'wasm-unsafe-eval' (its XPath parser is tree-sitter
# compiled to WebAssembly, embedded in the bundle), 'unsafe-inline' styles (Web Forms and PrimeVue inject
# their stylesheets as <style> elements from script, with no way to pass them a nonce), and images from
# data: and blob: URLs (its own icons, and the form's images it fetched). Scripts stay 'self' only, and
# every fetch still goes to this origin (connect-src from default-src).
PREVIEW_POLICY = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'; object-src 'none'"
)
STORED_FILE_POLICY = "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"


def add_security_headers(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Content-Security-Policy", APP_POLICY)
    return response


def as_form_preview(response: Response) -> Response:
    """The policy of the page that runs ODK Web Forms (PREVIEW_POLICY), instead of the app's."""
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    return response


def as_stored_file(response: Response) -> Response:
    """Mark ``response`` as bytes someone uploaded: sandboxed, never a page of this origin."""
    response.headers["Content-Security-Policy"] = STORED_FILE_POLICY
    return response
