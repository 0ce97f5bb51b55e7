import pytest
from django.urls import reverse

from curation.models import Example, Project
from curation.services.review import ReviewError, curriculum
from tests.factories import ExampleFactory


@pytest.fixture
def engineer(client_as):
    return client_as("engineer")


def settings_url(project):
    return reverse("project-settings", args=[project.slug])


def test_an_engineer_saves_guidelines_second_pass_checks_and_cut_points(project, engineer):
    response = engineer.post(
        settings_url(project),
        {
            "guidelines": "## Rules\n- be brief",
            "require_second_approval": "on",
            "checks": '[{"type": "non_empty"}, {"type": "max_length", "chars": 300}]',
            "tier_quantiles": "0.4, 0.8",
        },
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.require_second_approval and project.guidelines.startswith("## Rules")
    assert project.checks == [{"type": "non_empty"}, {"type": "max_length", "chars": 300}]
    assert project.tier_quantiles == [0.4, 0.8]


@pytest.mark.parametrize(
    "checks, message",
    [
        ("[{", "Not valid JSON"),
        ('[{"type": "telepathy"}]', "unknown check type"),
        ('[{"type": "max_length"}]', "missing &#x27;chars&#x27;"),
        ('[{"type": "regex_must_match", "pattern": "(a+)+"}]', "nests repetition"),
    ],
)
def test_bad_checks_are_refused_naming_the_problem_and_keeping_the_text(project, engineer, checks, message):
    response = engineer.post(settings_url(project), {"guidelines": "kept", "checks": checks, "tier_quantiles": ""})
    page = response.content.decode()
    assert response.status_code == 400 and message in page
    assert "\nkept</textarea>" in page
    assert Project.objects.get(pk=project.pk).checks == []


@pytest.mark.parametrize(
    "cuts, message",
    [
        ("0.8, 0.4", "strictly increasing"),
        ("0.5", "needs 2 cut points"),
        ("half", "numbers separated by commas"),
        ("0, 0.5", "between 0 and 1"),
    ],
)
def test_bad_tier_cut_points_are_refused(project, engineer, cuts, message):
    response = engineer.post(settings_url(project), {"checks": "[]", "tier_quantiles": cuts})
    assert response.status_code == 400 and message in response.content.decode()


def test_reviewers_cannot_change_settings_or_the_curriculum(project, client_as):
    client = client_as("reviewer")
    assert client.post(settings_url(project), {"checks": "[]", "require_second_approval": "on"}).status_code == 403
    assert (
        client.post(
            reverse("project-curriculum", args=[project.slug]), {"op": "add", "kind": "stage", "name": "x"}
        ).status_code
        == 403
    )
    assert not Project.objects.get(pk=project.pk).require_second_approval


def test_engineers_add_rename_reorder_and_remove_stages_and_tiers(project, engineer):
    url = reverse("project-curriculum", args=[project.slug])
    engineer.post(url, {"op": "add", "kind": "stage", "name": "stage 4"})
    stage4 = project.stages.get(name="stage 4")
    engineer.post(url, {"op": "rename", "kind": "stage", "id": stage4.id, "name": "capstone"})
    engineer.post(url, {"op": "up", "kind": "stage", "id": stage4.id})
    assert [s.name for s in project.stages.all()] == ["pool", "stage 1", "stage 2", "capstone", "stage 3"]
    engineer.post(url, {"op": "remove", "kind": "stage", "id": stage4.id})
    assert not project.stages.filter(name="capstone").exists()
    engineer.post(url, {"op": "add", "kind": "tier", "name": "expert"})
    expert = project.tiers.get(name="expert")
    engineer.post(url, {"op": "up", "kind": "tier", "id": expert.id})
    assert [t.name for t in project.tiers.all()] == ["easy", "medium", "expert", "hard"]


def test_curriculum_rules_protect_the_pool_and_examples(project, engineer):
    pool = project.pool
    stage1 = project.stages.get(name="stage 1")
    with pytest.raises(ReviewError, match="pool"):
        curriculum.rename_level(project, "stage", pool.id, "inbox")
    with pytest.raises(ReviewError):
        curriculum.remove_level(project, "stage", pool.id)
    ExampleFactory(prompt__project=project, stage=stage1)
    with pytest.raises(ReviewError, match="still holds 1 example"):
        curriculum.remove_level(project, "stage", stage1.id)
    with pytest.raises(ReviewError, match="already a stage"):
        curriculum.add_level(project, "stage", "STAGE 2")
    with pytest.raises(ReviewError, match="none"):
        curriculum.add_level(project, "tier", "None")
    curriculum.move_level(project, "stage", stage1.id, -1)
    assert project.stages.first() == pool  # the pool stays first
    assert Example.objects.get().stage == stage1


def test_a_curriculum_error_is_shown_with_the_typed_name(project, engineer):
    response = engineer.post(
        reverse("project-curriculum", args=[project.slug]), {"op": "add", "kind": "tier", "name": "hard"}
    )
    page = response.content.decode()
    assert response.status_code == 400 and "already a tier" in page and 'value="hard"' in page


@pytest.mark.parametrize(
    "data",
    [
        {"op": "up", "kind": "stage"},
        {"op": "rename", "kind": "stage", "id": "x"},
        {"op": "fly", "kind": "tier"},
        {"op": "add", "kind": "galaxy", "name": "x"},
        {"op": "remove", "kind": "tier", "id": "999999"},
    ],
)
def test_a_malformed_curriculum_request_is_a_400_with_a_message(project, engineer, data):
    response = engineer.post(reverse("project-curriculum", args=[project.slug]), data)
    assert response.status_code == 400 and 'role="alert"' in response.content.decode()


def test_an_engineer_sets_the_judge_its_rubric_and_grades(project, engineer, tmp_path):
    from curation.models import ModelSpec

    judge = ModelSpec.objects.create(project=project, name="judge", path=str(tmp_path))
    page = engineer.get(settings_url(project)).content.decode()
    assert "Judge of generated answers" in page and "the evaluated teacher" in page
    response = engineer.post(
        settings_url(project),
        {"checks": "[]", "judge_spec": judge.pk, "judge_rubric": "5: perfect. 1: useless.", "judge_grades": "1, 3, 5"},
    )
    assert response.status_code == 302
    project.refresh_from_db()
    assert project.judge_spec == judge and project.judge_rubric.startswith("5: perfect")
    assert project.judge_grades == ["1", "3", "5"]


@pytest.mark.parametrize(
    "grades, message", [("good, bad", "is not a number"), ("1", "at least two grades"), ("2, 2", "distinct")]
)
def test_bad_judge_grades_are_refused(project, engineer, grades, message):
    response = engineer.post(settings_url(project), {"checks": "[]", "judge_grades": grades})
    assert response.status_code == 400 and message in response.content.decode()
    assert Project.objects.get(pk=project.pk).judge_grades == []


def test_a_judge_spec_of_another_project_is_refused(project, engineer, tmp_path):
    from curation.models import ModelSpec
    from tests.factories import ProjectFactory

    elsewhere = ModelSpec.objects.create(project=ProjectFactory(), name="theirs", path=str(tmp_path))
    response = engineer.post(settings_url(project), {"checks": "[]", "judge_spec": elsewhere.pk})
    assert response.status_code == 400 and Project.objects.get(pk=project.pk).judge_spec is None
