"""The area a request may see: the one place where an account's area scope reaches the exports and the ledger.

Every export query takes an optional area (an administrative code; ``sync.exports.source.in_area`` is
the rule). ``caller_area`` answers the area of the caller's membership in the project (``require`` put
its scope on the actor; sync/access/scope.py), or None for the whole project.
"""

from __future__ import annotations

from server.auth import Actor, scope_of
from sync.errors import BadRequest, Forbidden


def caller_area(actor: Actor) -> str | None:
    """The administrative code the caller is limited to, or None for the whole project."""
    return scope_of(actor).limit  # fails rather than widen to the whole project when require() was skipped


def export_area(actor: Actor, requested: str | None) -> str | None:
    """The area an export covers: the caller's, narrowed by ``?area=`` (which may not widen it)."""
    allowed = caller_area(actor)
    if requested is None or requested == "":
        return allowed
    if not requested.isdigit():
        raise BadRequest("area must be an administrative code (digits only: county, township or village).")
    if allowed is not None and not requested.startswith(allowed):
        raise Forbidden(f"Your account is limited to the area {allowed}.")
    return requested


def ledger_area(actor: Actor, requested: str | None) -> str:
    """The ledger's area: as an export's (``?area=`` narrows the caller's, never widens it); "" = all."""
    return export_area(actor, requested) or ""
