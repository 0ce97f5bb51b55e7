import pytest
from django.urls import reverse

from curation.models import Example, GoldItem, Prompt, Verdict
from curation.services.review import decisions as review
from tests.factories import ExampleFactory, PromptFactory, UserFactory
from tests.review_factories import TeacherSampleFactory, example_with_sample


@pytest.fixture
def reviewer_user(member):
    return member("reviewer", username="rita")


@pytest.fixture
def reviewer(client, reviewer_user):
    client.force_login(reviewer_user)
    return client


@pytest.fixture
def three(project):
    return [ExampleFactory(prompt__project=project, response=f"Answer {i}") for i in range(3)]


def focus_url(example, query=""):
    return reverse("review-focus", args=[example.project.slug, example.pk]) + (f"?{query}" if query else "")


def act_url(example, action, query=""):
    return reverse("review-act", args=[example.project.slug, example.pk, action]) + (f"?{query}" if query else "")


def test_it_shows_the_prompt_as_chat_turns_the_response_and_the_guidelines(project, reviewer):
    project.guidelines = "## Be kind\n\n- **short** answers"
    project.save()
    prompt = Prompt.objects.create(
        project=project,
        content_hash="c1",
        messages=[{"role": "system", "content": "You are support."}, {"role": "user", "content": "My order is late."}],
    )
    example = ExampleFactory(prompt=prompt, response="Sorry to hear that.")
    page = reviewer.get(focus_url(example)).content.decode()
    assert 'class="turn role-system"' in page and "You are support." in page
    assert 'class="turn role-user"' in page and "My order is late." in page
    assert "Sorry to hear that." in page
    assert "<h4>Be kind</h4>" in page and "<strong>short</strong>" in page


def test_it_shows_the_other_teacher_samples_of_the_prompt_and_the_checks(project, reviewer):
    example = example_with_sample(project, response="First sample.")
    example.sample.check_results = [{"name": "max_length", "passed": False, "detail": "900 characters, limit 500"}]
    example.sample.save()
    TeacherSampleFactory(prompt=example.prompt, text="A second opinion.", sample_index=7)
    page = reviewer.get(focus_url(example)).content.decode()
    assert "A second opinion." in page and "Sample 7" in page
    assert "max_length" in page and "900 characters, limit 500" in page


def test_approving_moves_on_to_the_next_example_of_the_same_filter(project, three, reviewer):
    response = reviewer.post(act_url(three[0], "approve", "status=pending"), {"version": three[0].version})
    assert response.status_code == 302
    assert response["Location"] == focus_url(three[1], "status=pending")
    assert Example.objects.get(pk=three[0].pk).status == "approved"


def test_with_htmx_the_next_example_comes_back_as_a_fragment_and_the_url_is_pushed(project, three, reviewer):
    response = reviewer.post(
        act_url(three[0], "reject", "status=pending"), {"version": 1, "fragment": "focus"}, HTTP_HX_REQUEST="true"
    )
    page = response.content.decode()
    assert response.status_code == 200 and "<html" not in page
    assert f"Example #{three[1].pk}" in page and "Rejected." in page
    assert response["HX-Push-Url"] == focus_url(three[1], "status=pending")


def test_after_the_last_example_it_goes_back_to_the_queue(project, three, reviewer):
    response = reviewer.post(act_url(three[2], "approve", "status=pending"), {"version": 1})
    assert response.status_code == 302
    assert response["Location"] == reverse("review-queue", args=[project.slug]) + "?status=pending"


def test_a_stale_edit_is_refused_showing_who_changed_what_and_keeping_the_typed_text(project, three, reviewer):
    example = three[0]
    review.edit(example, UserFactory(username="bob"), example.version, "Bob's better answer.")
    response = reviewer.post(
        act_url(example, "edit"),
        {"version": 1, "response": "Rita's careful rewrite.", "fragment": "focus"},
        HTTP_HX_REQUEST="true",
    )
    page = response.content.decode()
    assert response.status_code == 409
    assert "bob changed this example" in page
    assert "Answer 0" in page and "Bob&#x27;s better answer." in page  # before and after
    assert "Rita&#x27;s careful rewrite.</textarea>" in page
    assert '<details id="edit-form" class="inline-form" open>' in page
    assert Example.objects.get(pk=example.pk).response == "Bob's better answer."
    # The refused form now carries the current version: saving again applies the edit.
    assert f'name="version" value="{example.version + 1}"' in page


def test_a_bad_value_is_a_400_naming_the_field(project, three, reviewer):
    response = reviewer.post(act_url(three[0], "grade"), {"version": 1, "grade": "excellent"})
    assert response.status_code == 400 and "grade" in response.content.decode()
    response = reviewer.post(act_url(three[0], "tier"), {"version": 1, "tier": "legendary"})
    assert response.status_code == 400 and "legendary" in response.content.decode()
    response = reviewer.post(act_url(three[0], "approve"), {})
    assert response.status_code == 400 and "version" in response.content.decode()
    assert not Verdict.objects.exists()


def test_an_unknown_action_is_a_404(project, three, reviewer):
    assert reviewer.post(act_url(three[0], "explode"), {"version": 1}).status_code == 404


@pytest.mark.parametrize(
    "action, data, check",
    [
        ("approve", {}, lambda ex: ex.status == "approved"),
        ("reject", {}, lambda ex: ex.status == "rejected"),
        ("edit", {"response": "Better."}, lambda ex: ex.response == "Better." and ex.original_response == "Answer 0"),
        ("grade", {"grade": "4"}, lambda ex: ex.grade == 4),
        ("tier", {"tier": "hard"}, lambda ex: ex.tier.name == "hard" and ex.tier_locked),
        ("stage", {"stage": "stage 2"}, lambda ex: ex.stage.name == "stage 2"),
        ("promote", {}, lambda ex: ex.stage.name == "stage 1"),
        ("comment", {"comment": "Looks fine."}, lambda ex: ex.verdicts.get().comment == "Looks fine."),
        (
            "gold",
            {"reference": "The gold answer."},
            lambda ex: GoldItem.objects.get(prompt=ex.prompt).reference == "The gold answer.",
        ),
    ],
)
def test_every_action_writes_one_verdict_and_bumps_the_version(
    project, three, reviewer, reviewer_user, action, data, check
):
    response = reviewer.post(act_url(three[0], action), {"version": 1, **data})
    assert response.status_code == 302, response.content.decode()[:500]
    example = Example.objects.get(pk=three[0].pk)
    assert check(example)
    assert example.version == 2
    verdict = Verdict.objects.get(example=example)
    assert verdict.user == reviewer_user and verdict.version == 2


def test_demote_from_the_pool_is_refused_with_a_message(project, three, reviewer):
    response = reviewer.post(act_url(three[0], "demote"), {"version": 1})
    assert response.status_code == 400 and "already in the pool" in response.content.decode()


def test_an_edited_example_shows_the_teachers_original(project, three, reviewer, reviewer_user):
    review.edit(three[0], reviewer_user, 1, "Human text.")
    page = reviewer.get(focus_url(three[0])).content.decode()
    assert "The teacher's original" in page and "Answer 0" in page and "Human text." in page
    assert "response edited" in page  # the history


def test_gold_prompts_are_badged_in_the_focus_view(project, three, reviewer, reviewer_user):
    review.add_to_gold(three[0], reviewer_user, 1, reference="Ref.")
    page = reviewer.get(focus_url(three[0])).content.decode()
    assert "locked out of training" in page and "Gold reference" in page


def test_classification_shows_the_label_distribution_and_sets_the_label(reviewer, db):
    from tests.factories import MembershipFactory, ProjectFactory

    project = ProjectFactory(task_type="classification", labels=["billing", "account"])
    user = UserFactory(username="cora")
    MembershipFactory(project=project, user=user, role="reviewer")
    reviewer.force_login(user)
    example = example_with_sample(project, response="billing")
    example.sample.label_distribution = {"billing": 0.8, "account": 0.2}
    example.sample.save()
    page = reviewer.get(focus_url(example)).content.decode()
    assert "label distribution" in page and "80.0%" in page and 'data-width="80"' in page
    response = reviewer.post(act_url(example, "label"), {"version": 1, "label": "account"})
    assert response.status_code == 302
    assert Example.objects.get(pk=example.pk).label == "account"


def test_navigation_links_follow_the_filter_order(project, reviewer):
    rows = [ExampleFactory(prompt__project=project, difficulty=d) for d in (0.9, 0.1, 0.5)]
    page = reviewer.get(focus_url(rows[2], "order=difficulty")).content.decode()
    assert f'href="{focus_url(rows[1], "order=difficulty")}"' in page  # previous: easier
    assert f'href="{focus_url(rows[0], "order=difficulty")}"' in page  # next: harder


def test_readers_see_the_example_but_not_the_actions(project, three, client_as):
    page = client_as("reader").get(focus_url(three[0])).content.decode()
    assert "Answer 0" in page and "Approve" not in page and "needs the reviewer role" in page


def test_a_reader_cannot_act_even_by_posting_directly(project, three, client_as):
    response = client_as("reader").post(act_url(three[0], "approve"), {"version": 1})
    assert response.status_code == 403
    assert Example.objects.get(pk=three[0].pk).status == "pending"


def test_another_projects_example_is_a_404_even_for_a_member(project, reviewer):
    from tests.factories import ProjectFactory

    foreign = ExampleFactory(prompt=PromptFactory(project=ProjectFactory()))
    url = reverse("review-focus", args=[project.slug, foreign.pk])
    assert reviewer.get(url).status_code == 404
