"""Projects and their people: memberships and roles, settings and API tokens (each change
audited), the dashboard's "what to do next", and the one lookup of a tier or stage by name.
Outside code imports this package only.
"""

from curation.services.projects.levels import NONE, stage_named, tier_named
from curation.services.projects.people import (
    add_member,
    can_create_projects,
    create_project,
    grant_role,
    remove_member,
    set_labels,
    set_role,
)
from curation.services.projects.project_settings import record_curriculum_change, save_settings
from curation.services.projects.steps import next_steps
from curation.services.projects.tokens import CAPTURE_ROUTES, MAX_DAYS, issue, revoke, token_state

__all__ = [
    "CAPTURE_ROUTES",
    "MAX_DAYS",
    "NONE",
    "add_member",
    "can_create_projects",
    "create_project",
    "grant_role",
    "issue",
    "next_steps",
    "record_curriculum_change",
    "remove_member",
    "revoke",
    "save_settings",
    "set_labels",
    "set_role",
    "stage_named",
    "tier_named",
    "token_state",
]
