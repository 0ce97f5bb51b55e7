"""Every project-scoped page and endpoint refuses outsiders (404) and too-low roles (403).

ACCESS lists each URL name with the lowest role that may use it; each area adds
its own entries in a ``tests/access_<area>.py`` module (a dict named ACCESS,
same shape). A test below fails when a project-scoped URL has no entry, so no
view can ship without its access test.
"""

import importlib
import pkgutil

import pytest
from django.urls import URLResolver, get_resolver, reverse

import tests

ROLES = ["reader", "reviewer", "engineer"]

# url name -> (HTTP method, lowest role allowed, extra kwargs factory or None)
ACCESS = {
    "project-dashboard": ("get", "reader", None),
    "project-import": ("post", "engineer", None),
    "api-prompts-import": ("post", "engineer", None),
}

# URL names that take a project slug but are deliberately not role-scoped.
UNSCOPED = set()

for _module in pkgutil.iter_modules(tests.__path__):
    if _module.name.startswith("access_"):
        ACCESS.update(importlib.import_module(f"tests.{_module.name}").ACCESS)


def url_for(name, project, extra):
    kwargs = {"slug": project.slug}
    if extra:
        kwargs.update(extra(project))
    return reverse(name, kwargs=kwargs)


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry.name


def _project_scoped_url_names():
    return {name for route, name in _walk(get_resolver().url_patterns) if "<slug:slug>" in route and name}


def test_every_project_scoped_url_has_an_access_rule():
    missing = _project_scoped_url_names() - set(ACCESS) - UNSCOPED
    assert not missing, f"add these URL names to ACCESS in tests/test_access.py: {sorted(missing)}"


@pytest.mark.parametrize("name", sorted(ACCESS))
def test_outsiders_get_404(name, project, client_as):
    method, _role, extra = ACCESS[name]
    client = client_as("outsider")
    response = getattr(client, method)(url_for(name, project, extra))
    assert response.status_code == 404


@pytest.mark.parametrize("name", sorted(ACCESS))
def test_anonymous_users_are_sent_to_login_or_refused(name, project, client):
    method, _role, extra = ACCESS[name]
    response = getattr(client, method)(url_for(name, project, extra))
    assert response.status_code in (302, 401, 403)
    if response.status_code == 302:
        assert reverse("login") in response["Location"]


@pytest.mark.parametrize("name", sorted(ACCESS))
def test_roles_below_the_minimum_get_403(name, project, client_as):
    method, minimum, extra = ACCESS[name]
    for role in ROLES[: ROLES.index(minimum)]:
        client = client_as(role)
        response = getattr(client, method)(url_for(name, project, extra))
        assert response.status_code == 403, (role, response.status_code)
        client.logout()


@pytest.mark.parametrize("name", sorted(ACCESS))
def test_the_minimum_role_is_let_in(name, project, client_as):
    method, minimum, extra = ACCESS[name]
    client = client_as(minimum)
    response = getattr(client, method)(url_for(name, project, extra))
    assert response.status_code not in (401, 403, 404), response.status_code


def test_another_projects_member_is_an_outsider(project, client, db):
    from tests.factories import MembershipFactory, ProjectFactory

    other = ProjectFactory()
    membership = MembershipFactory(project=other, role="engineer")
    client.force_login(membership.user)
    assert client.get(reverse("project-dashboard", args=[project.slug])).status_code == 404
    assert client.get(reverse("project-dashboard", args=[other.slug])).status_code == 200


def test_the_project_list_shows_only_my_projects(project, client_as, db):
    from tests.factories import ProjectFactory

    hidden = ProjectFactory(name="Hidden project")
    client = client_as("reader")
    page = client.get(reverse("project-list")).content.decode()
    assert project.name in page
    assert hidden.name not in page
