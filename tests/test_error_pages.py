"""403, 404 and 500 are pages of the app (its top bar, a way back), and 403 says which role is needed."""

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.views.defaults import server_error

from tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def reviewer(client, project):
    user = UserFactory(username="rhea")
    MembershipFactory(project=project, user=user, role="reviewer")
    client.force_login(user)
    return client


def test_a_403_names_the_role_needed_inside_the_app_layout(reviewer, project, settings):
    settings.DEBUG = False
    response = reviewer.get(reverse("project-settings", args=[project.slug]))
    page = response.content.decode()
    assert response.status_code == 403
    assert "This needs the engineer role; you are a reviewer here." in page
    assert 'class="topbar"' in page and 'href="#main"' in page and "Your projects" in page


def test_a_404_is_the_apps_page_not_djangos(reviewer, settings):
    settings.DEBUG = False
    response = reviewer.get("/p/no-such-project/review/")
    page = response.content.decode()
    assert response.status_code == 404 and "Nothing here" in page and 'class="topbar"' in page
    assert "Using the URLconf" not in page


def test_a_500_renders_without_a_request_context(db):
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500 and "Something broke on our side" in response.content.decode()


def test_the_favicon_is_served(client, db):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
    assert 'rel="icon"' in client.get(reverse("login")).content.decode()
