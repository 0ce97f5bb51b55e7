"""The one error type for input a service refuses, so no domain package imports another for it.

``Invalid.errors`` maps a field to its messages: ``{"stages.1.gate.threshold": ["..."]}``,
or, where a part of a request has fields of its own, a nested mapping
(``{"params": {"top_k": ["..."]}}``, which the API answers as it is). ``NON_FIELD`` holds
what is about the request as a whole. ``code`` says what kind of refusal it is, for code
that must branch. The surfaces translate it, one adapter each: ``curation.forms.add_errors``
(Django forms) and ``curation.api.errors`` (DRF); nobody parses message text.

``ReviewError`` is an ``Invalid`` with one message: an action that cannot be done (a bad
value, the same reviewer twice, ...), naming its field when it is about one.
"""

from __future__ import annotations

NON_FIELD = "__all__"


class Invalid(ValueError):
    """Input refused, by field. Build one with ``add`` and raise it when it holds anything."""

    def __init__(self, errors: dict | None = None, *, code: str = "invalid"):
        self.errors: dict = dict(errors or {})
        self.code = code
        super().__init__()

    def add(self, field: str | None, message: str) -> None:
        self.errors.setdefault(field or NON_FIELD, []).append(message)

    def nest(self, field: str, other: Invalid) -> None:
        """Put ``other``'s errors under ``field`` (a part of the request with fields of its own)."""
        self.errors[field] = other.errors

    def __contains__(self, field: str) -> bool:
        return field in self.errors

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise self

    def flat(self) -> list[tuple[str, str]]:
        """(dotted field, message) pairs, nested mappings flattened: ``("params.top_k", "...")``."""
        return list(_flat(self.errors, ""))

    def __str__(self) -> str:
        return "; ".join(message if field == NON_FIELD else f"{field}: {message}" for field, message in self.flat())


def _flat(errors: dict, prefix: str):
    for key, value in errors.items():
        path = f"{prefix}{key}" if key != NON_FIELD or not prefix else prefix.rstrip(".")
        if isinstance(value, dict):
            yield from _flat(value, f"{path}.")
        else:
            for message in value:
                yield path, str(message)


class ReviewError(Invalid):
    """An action that cannot be done: one message, and the field it is about (None: the action itself)."""

    def __init__(self, message: str, field: str | None = None, *, code: str = "refused"):
        super().__init__({field or NON_FIELD: [message]}, code=code)
        self.message, self.field = message, field
