"""Errors every service raises, so no domain package imports another for its error type."""


class ReviewError(ValueError):
    """An action that cannot be done (bad value, same reviewer twice, ...): a message for the user."""


class LaunchInvalid(Exception):
    """A launch (or resume) request that cannot run; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v) for k, v in errors.items()))


class FieldErrors(dict):
    """Errors by field name, as ``LaunchInvalid`` carries them: ``{"stages.0.lr": ["..."]}``."""

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)
