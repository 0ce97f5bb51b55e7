# Data hygiene's URLs in the access matrix (tests/test_access.py).
# url name -> (HTTP method, lowest role allowed, extra URL kwargs factory or None)
from tests.access_review import example_kwargs

ACCESS = {
    "review-pii": ("post", "reviewer", example_kwargs),
    "project-hygiene": ("get", "engineer", None),
    "api-gold-check": ("post", "reviewer", None),
    "api-gold-import": ("post", "engineer", None),
    "api-hygiene": ("get", "reviewer", None),
    "api-redactions": ("get", "engineer", None),
}
