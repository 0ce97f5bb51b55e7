"""Projects and their people: API tokens, the dashboard's "what to do next", and the one lookup
of a tier or stage by name. Outside code imports this package only.
"""

from curation.services.projects.levels import NONE, stage_named, tier_named
from curation.services.projects.steps import next_steps
from curation.services.projects.tokens import CAPTURE_ROUTES, MAX_DAYS, issue, revoke

__all__ = ["CAPTURE_ROUTES", "MAX_DAYS", "NONE", "issue", "next_steps", "revoke", "stage_named", "tier_named"]
