ACCESS = {
    "project-audit": ("get", "engineer", None),
    "project-audit-export": ("get", "engineer", None),
    "api-audit": ("get", "engineer", None),
    "reviewer-stats": ("get", "engineer", None),
}
