"""One gold guard: stored hashes that follow every edit, so the board says what a snapshot holds."""

import io

from django.urls import reverse

from curation.models import Example, GoldItem, Prompt
from curation.normalize import content_hash, split_key
from curation.services import gold
from curation.services.datasets import import_prompts
from tests.factories import ExampleFactory, PromptFactory


def admin_edit(client, prompt, **changes):
    """Change a prompt on its admin page, as an engineer would."""
    data = {
        "project": prompt.project_id,
        "text": prompt.text,
        "messages": "null",
        "source": prompt.source,
        "metadata": "{}",
        **changes,
    }
    return client.post(reverse("admin:curation_prompt_change", args=[prompt.pk]), data)


def board_count(client, project, stage_name):
    columns = client.get(reverse("review-board", args=[project.slug])).context["columns"]
    return next(c["progress"]["in_snapshot"] for c in columns if c["stage"].name == stage_name)


def test_a_one_turn_user_chat_is_the_same_prompt_as_its_text():
    turn = [{"role": "user", "content": "  Where is my  INVOICE? "}]
    assert content_hash("", turn) == content_hash("where is my invoice?")
    assert content_hash("", [{"role": "system", "content": "Be brief."}, *turn]) != content_hash("where is my invoice?")
    assert content_hash("", [{"role": "assistant", "content": "Where is my invoice?"}]) != content_hash(
        "Where is my invoice?"
    )
    assert split_key("", turn) != split_key("where is my invoice?")  # a snapshot's split key never moved


def test_an_import_of_the_chat_form_of_a_prompt_adds_nothing(project):
    PromptFactory(project=project, text="Where is my invoice?")
    line = b'{"messages": [{"role": "user", "content": "where is my invoice?"}]}\n'
    result = import_prompts(project, io.BytesIO(line), filename="p.jsonl")
    assert (result.created, result.duplicates) == (0, 1) and Prompt.objects.filter(project=project).count() == 1


def test_an_admin_edit_rehashes_the_prompt_and_its_gold_item(project, admin_client):
    prompt = PromptFactory(project=project, text="Reset my pasword")
    item = GoldItem.objects.create(project=project, prompt=prompt, reference="Use the link.")
    response = admin_edit(admin_client, prompt, text="Reset my password")
    assert response.status_code == 302
    prompt.refresh_from_db()
    item.refresh_from_db()
    assert prompt.content_hash == item.content_hash == content_hash("reset my password")


def test_the_admin_refuses_an_edit_that_makes_a_prompt_equal_another(project, admin_client):
    PromptFactory(project=project, text="Ship to Canada?")
    other = PromptFactory(project=project, text="Ship to Mexico?")
    response = admin_edit(admin_client, other, text="ship to CANADA?")
    assert response.status_code == 200 and "would equal prompt" in response.content.decode()
    other.refresh_from_db()
    assert other.text == "Ship to Mexico?" and other.content_hash == content_hash("Ship to Mexico?")


def test_the_boards_count_is_what_a_snapshot_of_the_stage_holds(
    project, approved, build, admin_client, client_as, stage1
):
    # An approved example whose prompt an engineer rewrote in the admin; the new text then became gold.
    edited = approved("How long do refunds take?")
    assert admin_edit(admin_client, edited.prompt, text="Ship to Canada?").status_code == 302
    # A one-turn chat prompt with an approved example; its plain text became gold.
    turns = [{"role": "user", "content": "What is the refund window?"}]
    chat = approved("unused", prompt=Prompt.objects.create(project=project, messages=turns))
    reviewer = client_as("reviewer")
    for text in ("ship to canada?", "WHAT is the refund  window?"):
        response = reviewer.post(reverse("gold-add", args=[project.slug]), {"prompt": text, "reference": "R."})
        assert response.status_code == 302
    kept = approved("Do you ship to Mexico?")
    ExampleFactory(prompt__project=project, stage=stage1, status="pending")  # never counted
    assert GoldItem.objects.filter(prompt__in=[edited.prompt, chat.prompt]).count() == 2  # the prompts were reused
    on_board = board_count(reviewer, project, "stage 1")
    snap = build(project)
    assert on_board == snap.row_count == 1
    assert snap.excluded == {"not_approved": 1, "gold_prompt": 2}
    assert [row.example_id for row in snap.rows.all()] == [kept.pk]
    badged = gold.with_gold_flag(Example.objects.filter(project=project)).filter(is_gold=True)
    assert set(badged.values_list("pk", flat=True)) == {edited.pk, chat.pk}  # the queue's badge
    assert set(gold.contamination(project).values_list("pk", flat=True)) == {edited.pk, chat.pk}  # the Gold page's


def test_g_over_the_length_limit_is_refused_with_the_gold_pages_message(project, client_as, settings):
    settings.IMPORT_MAX_PROMPT_CHARS = 20
    example = ExampleFactory(prompt__project=project)
    client = client_as("reviewer")
    page = client.post(reverse("gold-add", args=[project.slug]), {"prompt": "Short?", "reference": "x" * 27})
    message = "reference: The reference is 27 characters; the limit is 20."
    assert page.status_code == 400 and message in page.content.decode()
    focus = client.post(
        reverse("review-act", args=[project.slug, example.pk, "gold"]), {"version": 1, "reference": "x" * 27}
    )
    assert focus.status_code == 400 and message in focus.content.decode()
    assert not GoldItem.objects.exists()
