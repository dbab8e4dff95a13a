"""What the admin pages share: a refusal shown beside the form it came from, in the page's language.

The services' messages are written for the log and the command line; on a page the error
is shown by its code and field in the reader's language (``admin_err_*``, ``admin_field_*``
in the catalogues), with the service's own message only for codes the catalogue lacks.
"""

from __future__ import annotations

from geo.errors import RowErrors
from services.errors import DomainError
from services.errors import Forbidden
from services.errors import Unauthenticated
from webmap.errors import describe
from webmap.i18n import t


def _known(key: str) -> str | None:
    text = t(key)
    return None if text == key else text


def refusal(exc: Exception) -> tuple[dict, int]:
    """(what the page shows, HTTP status) for a refused form: message, field and faulty rows.

    A refusal of the caller (not signed in, not an administrator) is raised again: it gets the
    app's error page, never the form."""
    if isinstance(exc, Forbidden | Unauthenticated):
        raise exc
    status, code, message, _ = describe(exc)
    field = getattr(exc, "field", None) if isinstance(exc, DomainError) else None
    shown = _known(f"admin_err_{code}") or message.splitlines()[0]
    label = _known(f"admin_field_{field}") if field else None
    rows = []
    if isinstance(exc, RowErrors):
        rows = [
            {"row": e.row, "field": _known(f"admin_field_{e.field}") or e.field, "message": e.message}
            for e in exc.errors[:200]
        ]
    return {"message": shown, "field": label, "rows": rows}, status


def role_label(role: str) -> str:
    """A role as people read it (the code itself for a role the catalogue does not name yet)."""
    return _known(f"admin_role_{role}") or role


def checked(value: str | None) -> bool:
    return (value or "").lower() in ("1", "on", "yes", "true")
