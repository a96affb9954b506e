"""The area a request may see: the one place where an account's area scope reaches the exports and the ledger.

Every export query takes an optional area (an administrative code; ``sync.exports.source.in_area`` is
the rule). Accounts carry no area yet, so ``caller_area`` answers None (the whole project); once
memberships with an area exist, it returns the caller's code and every export route follows.
"""

from __future__ import annotations

from server.auth import Actor
from sync.errors import BadRequest, Forbidden


def caller_area(actor: Actor) -> str | None:
    """The administrative code the caller is limited to, or None for the whole project."""
    return None


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
