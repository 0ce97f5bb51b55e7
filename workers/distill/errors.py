"""The one exception the distillation core raises for anything a user can cause."""


class DistillError(Exception):
    """A job cannot go on; ``str(exc)`` is a message fit to show the engineer as it is.

    ``field`` names the setting the message is about when it is about one: a dotted path
    relative to the object that refused it (``lr`` from a stage, ``stages.1.name`` from the
    job), which ``within`` extends, so a launch form puts the message under its input.
    """

    def __init__(self, message: str = "", field: str | None = None):
        super().__init__(message)
        self.field = field

    def within(self, prefix: str) -> "DistillError":
        """The same error, its field seen from the object that holds this one (``stages.1`` + ``lr``)."""
        return DistillError(str(self), f"{prefix}.{self.field}" if self.field else prefix)
