"""Projects and their people: API tokens, the dashboard's "what to do next", and the one lookup
of a tier or stage by name. Outside code imports this package only.
"""

from curation.services.projects.levels import NONE, stage_named, tier_named
from curation.services.projects.people import (
    add_member,
    can_create_projects,
    create_project,
    remove_member,
    set_labels,
    set_role,
)
from curation.services.projects.steps import next_steps
from curation.services.projects.tokens import CAPTURE_ROUTES, MAX_DAYS, issue, revoke

__all__ = [
    "CAPTURE_ROUTES",
    "MAX_DAYS",
    "NONE",
    "add_member",
    "can_create_projects",
    "create_project",
    "issue",
    "next_steps",
    "remove_member",
    "revoke",
    "set_labels",
    "set_role",
    "stage_named",
    "tier_named",
]
