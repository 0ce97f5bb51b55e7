"""The one exception the distillation core raises for anything a user can cause."""


class DistillError(Exception):
    """A job cannot go on; ``str(exc)`` is a message fit to show the engineer as it is."""
