"""Project administration in the browser's views: create a project, its labels, members and roles."""

import pytest
from django.urls import reverse

from curation.models import Membership, Project
from curation.services import projects
from curation.services.errors import Invalid
from tests.factories import ExampleFactory, MembershipFactory, UserFactory


@pytest.fixture
def erin(project):
    user = UserFactory(username="erin")
    MembershipFactory(project=project, user=user, role="engineer")
    return user


def test_an_engineer_creates_a_classification_project_and_becomes_its_engineer(client, erin):
    client.force_login(erin)
    assert "New project" in client.get(reverse("project-list")).content.decode()
    response = client.post(
        reverse("project-new"),
        {"name": "Ticket triage", "task_type": "classification", "labels": "billing\naccount, other\nbilling"},
    )
    project = Project.objects.get(slug="ticket-triage")
    assert response.status_code == 302 and response["Location"] == reverse("project-members", args=[project.slug])
    assert project.labels == ["billing", "account", "other"] and project.created_by == erin
    assert project.memberships.get().role == "engineer"
    assert project.stages.order_by("order").first().name == "pool" and project.tiers.count() == 3


def test_creating_refuses_what_is_missing_naming_the_field(client, erin, project):
    client.force_login(erin)
    response = client.post(reverse("project-new"), {"name": "X", "slug": project.slug, "task_type": "classification"})
    page = response.content.decode()
    assert response.status_code == 400 and "is taken" in page and "needs its labels" in page
    assert 'value="X"' in page  # what was typed stays


def test_only_engineers_or_admins_may_create_projects(client, project):
    reviewer = UserFactory(username="rae")
    MembershipFactory(project=project, user=reviewer, role="reviewer")
    client.force_login(reviewer)
    response = client.get(reverse("project-new"))
    assert response.status_code == 403 and "needs the engineer role" in response.content.decode()
    assert "New project" not in client.get(reverse("project-list")).content.decode()


def test_members_are_added_their_roles_changed_and_removed(client, erin, project):
    UserFactory(username="newbie")
    client.force_login(erin)
    response = client.post(reverse("project-members", args=[project.slug]), {"username": "newbie", "role": "reviewer"})
    assert response.status_code == 302
    membership = Membership.objects.get(project=project, user__username="newbie")
    assert membership.role == "reviewer"
    url = reverse("project-member-change", args=[project.slug, membership.pk])
    client.post(url, {"op": "role", "role": "reader"})
    assert Membership.objects.get(pk=membership.pk).role == "reader"
    client.post(url, {"op": "remove"})
    assert not Membership.objects.filter(pk=membership.pk).exists()
    bad = client.post(reverse("project-members", args=[project.slug]), {"username": "ghost", "role": "reviewer"})
    assert bad.status_code == 400 and "No active user is called “ghost”" in bad.content.decode()


def test_the_last_engineer_can_neither_leave_nor_step_down(erin, project):
    only = Membership.objects.get(project=project, user=erin)
    with pytest.raises(Invalid) as err:
        projects.set_role(only, "reviewer")
    assert "only engineer" in err.value.errors["role"][0]
    with pytest.raises(Invalid) as err:
        projects.remove_member(only)
    assert "only engineer" in err.value.errors["member"][0]
    other = MembershipFactory(project=project, role="engineer")
    projects.set_role(only, "reviewer")
    assert Membership.objects.get(pk=only.pk).role == "reviewer" and other.role == "engineer"


def test_labels_are_edited_but_one_in_use_is_kept(client, erin, project):
    project.task_type, project.labels = "classification", ["billing", "account"]
    project.save()
    ExampleFactory(prompt__project=project, label="account")
    client.force_login(erin)
    url = reverse("project-labels", args=[project.slug])
    client.post(url, {"labels": "billing\naccount\nother"})
    assert Project.objects.get(pk=project.pk).labels == ["billing", "account", "other"]
    response = client.post(url, {"labels": "billing"}, follow=True)
    assert "Examples still carry account" in response.content.decode()
    assert Project.objects.get(pk=project.pk).labels == ["billing", "account", "other"]
