"""Domain errors that views turn into messages next to the field or row."""
from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused the action; `message` is user-facing (already translated)."""

    def __init__(self, message: str, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class ValidationFailed(DomainError):
    """Several field errors at once: {field: [messages]}."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        first = next(iter(errors.values()), [""])
        super().__init__(first[0] if first else "", field=next(iter(errors), None))
        self.errors = errors


class NotAllowed(DomainError):
    """The user's role or organization does not permit this action."""


class NotFound(DomainError):
    """The object does not exist or is not visible to the user."""


class Conflict(DomainError):
    """The object changed since the user loaded it (optimistic locking) or the state forbids it."""
