"""Projects and their people: memberships and roles, settings and API tokens (each change
audited), the dashboard's "what to do next", and the one lookup of a tier or stage by name.
Outside code imports this package only.
"""

from curation.services.projects.levels import NONE, stage_named, tier_named
from curation.services.projects.members import remove_member, set_role
from curation.services.projects.project_settings import record_curriculum_change, save_settings
from curation.services.projects.steps import next_steps
from curation.services.projects.tokens import issue, revoke

__all__ = [
    "NONE",
    "issue",
    "next_steps",
    "record_curriculum_change",
    "remove_member",
    "revoke",
    "save_settings",
    "set_role",
    "stage_named",
    "tier_named",
]
