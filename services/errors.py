"""The application's domain errors: what went wrong, in terms of the request, not of HTTP.

Services raise these; each adapter renders them once, in its own terms (``webmap.errors``
maps the class to a status and an RFC 9457 problem, Open311 to its error list, a page to
an HTML error page in the reader's language, the CLI to a message and exit code 2). The
``code`` is a stable name a client may branch on; ``message`` is for a person and names
the field, row or value at fault.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class of every refusal the services make."""

    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.details = details or {}


class Invalid(DomainError):
    """The request is malformed: a parameter of the wrong form, a missing field."""

    code = "bad_parameter"


class Refused(DomainError):
    """The request was understood but cannot be carried out as asked (a rule forbids it)."""

    code = "refused"


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the caller)."""

    code = "not_found"

    @classmethod
    def of(cls, kind: str, key: object, where: str = "") -> NotFound:
        return cls(f"{kind} {key} does not exist{where}", code="not_found")


class Conflict(DomainError):
    """The thing changed since the caller read it (optimistic locking), or already exists."""

    code = "conflict"


class Unauthenticated(DomainError):
    """The caller must say who it is (or presented a key that is not valid)."""

    code = "unauthorized"


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    code = "forbidden"


class PreconditionRequired(DomainError):
    """A change must name the version it was based on."""

    code = "version_required"


class TooLarge(DomainError):
    """A body or file over its documented limit."""

    code = "too_large"


class UnsupportedType(DomainError):
    """A file or body of a type this endpoint does not take."""

    code = "unsupported_type"


class Unavailable(DomainError):
    """Something the request needs is not set up or not ready (no active version, no geocoder)."""

    code = "unavailable"
