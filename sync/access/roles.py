"""The roles an account can have, and what each may do: one table for the API, the pages, the CLI and the checks.

Roles are the same in every project; the area a membership adds limits *where* (sync/access/scope.py). A
supervisor (乡镇审核员) reviews; a viewer reads; a manager (the county office) also sees personal data in
full and the audit log; an administrator also manages accounts, phones and forms. App users (phones) are
not accounts: they may list, download and submit in their own project.
"""

from __future__ import annotations

_READ = frozenset({"form.read", "submission.read", "registry.read"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": _READ | {"submission.create", "submission.review", "pii.read", "audit.read", "admin"},
    "manager": _READ | {"submission.create", "submission.review", "pii.read", "audit.read"},
    "supervisor": _READ | {"submission.create", "submission.review"},
    "viewer": _READ,
    "enumerator": frozenset({"form.read", "submission.create"}),
}
ROLES = tuple(PERMISSIONS)
APP_USER = "app_user"
APP_USER_PERMISSIONS = frozenset({"form.read", "submission.create"})


def allowed(role: str, permission: str) -> bool:
    if role == APP_USER:
        return permission in APP_USER_PERMISSIONS
    return permission in PERMISSIONS.get(role, frozenset())
