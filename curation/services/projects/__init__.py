"""Projects and their people: API tokens and the dashboard's "what to do next".
Outside code imports this package only.
"""

from curation.services.projects.steps import next_steps
from curation.services.projects.tokens import TokenError, issue, revoke

__all__ = ["TokenError", "issue", "next_steps", "revoke"]
