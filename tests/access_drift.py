# Drift monitoring in the access matrix (tests/test_access.py): the settings page and the REST list.
ACCESS = {
    "project-drift": ("post", "engineer", None),
    "api-drift-reports-list": ("get", "reader", None),
}
