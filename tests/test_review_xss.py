"""Model outputs, prompts, edits and names are untrusted: every page renders them as inert text."""

import pytest
from django.urls import reverse

from curation.models import Prompt, Verdict
from curation.services.review import decisions as review
from curation.services.teacher import heatmap
from tests.factories import ExampleFactory, MembershipFactory, ProjectFactory, UserFactory
from tests.review_factories import GoldItemFactory, ModelSpecFactory, TeacherSampleFactory, write_soft_targets

PAYLOAD = (
    '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
    '**[click](javascript:window.__xss=3)** <a href="javascript:window.__xss=4">x</a> "quoted" \'single\''
)
LIVE_MARKUP = ("<script>window.__xss", "<img src=x", 'href="javascript:', 'onerror="window')


class PayloadTokenizer:
    """Stands in for a teacher tokenizer whose tokens happen to be markup."""

    def decode(self, ids):
        return PAYLOAD


@pytest.fixture
def hostile(db, settings, tmp_path, monkeypatch):
    """A classification project where every human- or model-written string is the payload."""
    settings.ARTIFACT_DIR = tmp_path
    monkeypatch.setattr(heatmap, "load_tokenizer", lambda path: PayloadTokenizer())
    project = ProjectFactory(task_type="classification", labels=[PAYLOAD[:90], "plain"], guidelines=PAYLOAD)
    project.stages.filter(name="stage 1").update(name=PAYLOAD[:50])
    project.tiers.filter(name="hard").update(name=PAYLOAD[:50])
    user = UserFactory(username="xss-reviewer")
    MembershipFactory(user=user, project=project, role="engineer")
    evil_user = UserFactory(username="<b>evil</b>")
    MembershipFactory(user=evil_user, project=project, role="reviewer")
    prompt = Prompt.objects.create(project=project, text=PAYLOAD, content_hash="h1")
    turns = [{"role": "system", "content": PAYLOAD}, {"role": "user", "content": PAYLOAD}]
    chat = Prompt.objects.create(project=project, content_hash="h2", messages=turns)
    pointer = write_soft_targets("xss", [1, 2, 3], [0.9, 0.2, 0.5])
    spec = ModelSpecFactory(project=project, path=str(tmp_path))
    sample = TeacherSampleFactory(
        prompt=prompt,
        text=PAYLOAD,
        model_spec=spec,
        soft_targets=pointer,
        label_distribution={PAYLOAD[:90]: 0.7, "plain": 0.3},
        predicted_label=PAYLOAD[:90],
        check_results=[{"name": PAYLOAD[:40], "passed": False, "detail": PAYLOAD}],
    )
    example = ExampleFactory(
        prompt=prompt,
        sample=sample,
        response=PAYLOAD,
        soft_targets=pointer,
        tier=project.tiers.get(order=2),
        label=PAYLOAD[:90],
        failed_checks=[PAYLOAD[:40]],
        checks_failed=True,
    )
    # Approved in the payload-named stage: the dashboard's next steps name that stage.
    ExampleFactory(
        prompt__project=project, status="approved", label="plain", stage=project.stages.get(name=PAYLOAD[:50])
    )
    TeacherSampleFactory(prompt=prompt, text=PAYLOAD, sample_index=9)
    chat_sample = TeacherSampleFactory(prompt=chat, text=PAYLOAD, model_spec=spec, soft_targets=pointer)
    unedited = ExampleFactory(prompt=chat, sample=chat_sample, response=PAYLOAD, soft_targets=pointer)
    edited = review.edit(example, evil_user, example.version, PAYLOAD + " (edited)", comment=PAYLOAD)
    review.comment(edited, evil_user, edited.version, PAYLOAD)
    review.approve(edited, evil_user, edited.version + 1, comment=PAYLOAD)
    GoldItemFactory(prompt=chat, reference=PAYLOAD, label=PAYLOAD[:90])
    return {"project": project, "user": user, "example": example, "unedited": unedited, "evil": evil_user}


def pages(hostile):
    slug, pk = hostile["project"].slug, hostile["example"].pk
    return {
        "queue": reverse("review-queue", args=[slug]) + "?q=" + "%3Cscript%3E",
        "counts": reverse("review-counts", args=[slug]),
        "focus": reverse("review-focus", args=[slug, pk]),
        "heatmap": reverse("review-heatmap", args=[slug, hostile["unedited"].pk]),
        "chat focus": reverse("review-focus", args=[slug, hostile["unedited"].pk]),
        "board": reverse("review-board", args=[slug]),
        "gold": reverse("gold-list", args=[slug]),
        "contamination": reverse("gold-contamination", args=[slug]),
        "dashboard": reverse("project-dashboard", args=[slug]),
        "settings": reverse("project-settings", args=[slug]),
        "bulk confirm": reverse("review-bulk", args=[slug]) + "?action=approve&q=%3Cscript%3Ewindow.__xss%3D1",
    }


def test_the_payload_renders_as_text_on_every_review_page(hostile, client):
    client.force_login(hostile["user"])
    for name, url in pages(hostile).items():
        response = client.get(url)
        assert response.status_code in (200, 400), (name, response.status_code)
        html = response.content.decode()
        for markup in LIVE_MARKUP:
            assert markup not in html, f"{name} renders live markup {markup!r}"
        assert "&lt;script&gt;window.__xss=1" in html or name in ("counts",), name


def test_the_stale_conflict_message_escapes_the_other_reviewers_change(hostile, client):
    client.force_login(hostile["user"])
    example = hostile["example"]
    # A classification's edit sets the label (the hostile project classifies).
    response = client.post(
        reverse("review-act", args=[hostile["project"].slug, example.pk, "edit"]),
        {"version": 1, "label": "plain", "fragment": "focus"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 409 and "&lt;b&gt;evil&lt;/b&gt; changed this example" in html
    for markup in LIVE_MARKUP:
        assert markup not in html


def test_the_history_keeps_the_payload_as_recorded_text(hostile):
    verdicts = Verdict.objects.filter(example=hostile["example"])
    assert any(v.comment == PAYLOAD for v in verdicts)


def test_labels_and_the_next_steps_render_the_payload_escaped(hostile, client):
    """The queue's label column, the focus view's prediction and the dashboard's steps are new places."""
    client.force_login(hostile["user"])
    slug, pk = hostile["project"].slug, hostile["example"].pk
    escaped = "&lt;script&gt;window.__xss=1&lt;/script&gt;"
    queue = client.get(reverse("review-queue", args=[slug])).content.decode()
    assert f'<b class="label">{escaped}' in queue and "teacher: " not in queue  # label == prediction
    focus = client.get(reverse("review-focus", args=[slug, pk])).content.decode()
    assert f'<b id="teacher-label">{escaped}' in focus and f'title="{escaped}' in focus
    dashboard = client.get(reverse("project-dashboard", args=[slug])).content.decode()
    assert f"1 approved example in {escaped}&lt;img src=x onerror= has no snapshot yet." in dashboard
    assert "?stage=%3Cscript%3Ewindow.__xss" in dashboard
    for html in (queue, focus, dashboard):
        for markup in LIVE_MARKUP:
            assert markup not in html
