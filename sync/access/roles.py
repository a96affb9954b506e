"""The roles an account can have, and what each may do: one table for the API, the pages, the CLI and the checks.

Roles are the same in every project; the area a membership adds limits *where* (sync/access/scope.py). A
supervisor (乡镇审核员) reviews; a viewer reads; a manager (the county office) also sees personal data in
full and the audit log; an administrator also manages accounts, phones and forms. App users (phones) are
not accounts: they may list, download and submit in their own project.
The ledger (docs/ledger.md): ``ledger.read`` sees items, ``ledger.assign`` records measures, done reports
and close requests, ``ledger.approve`` approves another account's manual close, ``parameters.manage``
uploads and applies parameter tables.
``form.manage`` (upload, draft, publish, open or close a form: Central's ``form.create`` and
``form.update``) belongs to the roles that run a survey, not to those who collect or review it.
"""

from __future__ import annotations

_LEDGER = frozenset({"ledger.read", "ledger.assign", "ledger.approve"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            "form.read",
            "form.manage",
            "submission.create",
            "submission.read",
            "submission.review",
            "registry.read",
            "admin",
            "parameters.manage",
            "pii.read",
            "audit.read",
        }
    )
    | _LEDGER,
    "manager": frozenset(
        {"form.read", "form.manage", "submission.create", "submission.read", "submission.review", "registry.read",
         "pii.read", "audit.read"}
    )
    | _LEDGER,
    "supervisor": frozenset(
        {"form.read", "submission.create", "submission.read", "submission.review", "registry.read",
         "ledger.read", "ledger.assign", "ledger.approve"}
    ),
    "viewer": frozenset({"form.read", "submission.read", "registry.read", "ledger.read"}),
    "enumerator": frozenset({"form.read", "submission.create"}),
}
ROLES = tuple(PERMISSIONS)
APP_USER = "app_user"
APP_USER_PERMISSIONS = frozenset({"form.read", "submission.create"})


def allowed(role: str, permission: str) -> bool:
    if role == APP_USER:
        return permission in APP_USER_PERMISSIONS
    return permission in PERMISSIONS.get(role, frozenset())
