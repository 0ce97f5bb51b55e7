"""Decontamination in snapshots, the board, the Gold page, manage.py check_contamination and import_gold."""

import io
import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from curation.models import GoldItem, Prompt
from curation.services import gold, hygiene
from curation.services.datasets import check_contamination, import_prompts
from tests.api.test_gold_guard import board_count
from tests.api.test_snapshot_build import jsonl, rows_of
from tests.factories import UserFactory

GOLD = (
    "My order 48213 from the Berlin warehouse arrived with a cracked screen. Alice from support promised a "
    "replacement within 5 days but nothing came. How do I get a refund instead?"
)
TYPO = GOLD.replace("order", "ordr").replace("arrived", "arived")
GREETING = "Hi there, hope you are well! " + GOLD
SAME_TOPIC = (
    "My order 48213 from the Berlin warehouse arrived with a cracked screen. Can you tell me which courier "
    "delivered it and whether the box was insured for transport damage?"
)


@pytest.fixture
def gold_item(project):
    return gold.create_gold_item(project, UserFactory(), prompt_text=GOLD, reference="Refund within 14 days.")


def test_a_snapshot_leaves_out_near_duplicates_of_gold_and_says_why_in_its_manifest(
    project, approved, build, artifact_dir, gold_item
):
    typo = approved(TYPO)
    greeting = approved(GREETING)
    keep = approved(SAME_TOPIC)
    exact = approved("unused", prompt=Prompt.objects.get(pk=gold_item.prompt_id))
    snap = build(project)
    assert snap.excluded == {"gold_prompt": 1, "gold_near_duplicate": 2}
    assert [r.example_id for r in rows_of(snap)] == [keep.id]
    evidence = {e["example_id"]: e for e in snap.manifest["decontamination"]["examples"]}
    assert set(evidence) == {typo.id, greeting.id, exact.id}
    assert evidence[exact.id]["reason"] == "exact" and evidence[exact.id]["gold_item"] == gold_item.id
    near = evidence[typo.id]
    assert near["reason"] == "near" and near["gold_item"] == gold_item.id and 0.5 <= near["similarity"] < 1
    assert near["evidence"] == f"near-duplicate of gold item {gold_item.id} (Jaccard {near['similarity']:.2f})"
    assert {row["prompt"] for row in jsonl(artifact_dir, snap)} == {SAME_TOPIC}


def test_the_boards_count_is_what_the_snapshot_holds(project, approved, build, client_as, gold_item):
    approved(TYPO)
    approved(SAME_TOPIC)
    approved("Something else entirely: how long is the warranty on refurbished laptops?")
    client = client_as("reviewer")
    on_board = board_count(client, project, "stage 1")
    snap = build(project)
    assert on_board == snap.row_count == 2


def test_a_gold_item_added_later_flags_its_near_duplicates_at_once(project, approved):
    ex = approved(TYPO)
    assert not Prompt.objects.get(pk=ex.prompt_id).near_gold_id
    item = gold.create_gold_item(project, UserFactory(), prompt_text=GOLD, reference="Refund.")
    prompt = Prompt.objects.get(pk=ex.prompt_id)
    assert prompt.near_gold_id == item.id and prompt.near_gold_kind == "near"
    gold.discard_candidate(
        GoldItem.objects.create(
            project=project, prompt=Prompt.objects.create(project=project, text="x y z"), reference="r"
        )
    )
    item.confirmed = False
    item.save()
    gold.discard_candidate(item)
    assert Prompt.objects.get(pk=ex.prompt_id).near_gold_id is None


def test_the_gold_page_lists_near_duplicates_with_their_evidence(project, approved, client_as, gold_item):
    ex = approved(TYPO)
    page = client_as("reviewer").get(reverse("gold-contamination", args=[project.slug]))
    assert page.status_code == 200
    body = page.content.decode()
    assert f"near-duplicate of gold item {gold_item.id} (Jaccard" in body and f"/examples/{ex.id}/" in body


def lines(*objs):
    return io.BytesIO(("\n".join(json.dumps(o) for o in objs) + "\n").encode())


def test_check_contamination_answers_one_object_per_line(project, gold_item, tmp_path):
    data = [
        {"prompt": GOLD.upper()},
        {"prompt": TYPO},
        {"prompt": SAME_TOPIC},
        {"prompt": ""},
        {"messages": [{"role": "user", "content": GREETING}]},
    ]
    out = check_contamination(project, lines(*data), filename="x.jsonl")
    assert [o["line"] for o in out] == [1, 2, 3, 4, 5]
    assert out[0] | {} == {**out[0], "excluded": True, "reason": "exact", "gold_item": gold_item.id, "similarity": 1.0}
    assert out[1]["excluded"] is True and out[1]["reason"] == "near" and out[1]["gold_item"] == gold_item.id
    assert out[2] == {**out[2], "excluded": False, "reason": None, "gold_item": None, "similarity": None}
    assert out[3]["excluded"] is None and "empty" in out[3]["error"]
    assert out[4]["reason"] == "near"
    path = tmp_path / "outside.jsonl"
    path.write_bytes(lines(*data).getvalue())
    stdout = io.StringIO()
    call_command("check_contamination", project.slug, str(path), "--json", stdout=stdout)
    parsed = [json.loads(line) for line in stdout.getvalue().splitlines()]
    assert [set(p) - {"error"} for p in parsed] == [{"line", "excluded", "reason", "gold_item", "similarity"}] * 5
    assert [p["reason"] for p in parsed] == ["exact", "near", None, None, "near"]
    assert Prompt.objects.filter(project=project).count() == 1  # nothing stored: only the gold prompt


def test_check_contamination_reads_csv_too(project, gold_item):
    csv = io.BytesIO(f'prompt\n"{TYPO}"\n"{SAME_TOPIC}"\n'.encode())
    out = check_contamination(project, csv, filename="x.csv")
    assert [(o["line"], o["reason"]) for o in out] == [(2, "near"), (3, None)]


def test_import_gold_creates_confirmed_items_with_tiers_and_refuses_bad_lines(project, approved, tmp_path):
    ex = approved(TYPO)
    path = tmp_path / "gold.jsonl"
    path.write_bytes(
        lines({"prompt": GOLD, "reference": "Refund.", "tier": "hard"}, {"prompt": "No answer here"}).getvalue()
    )
    with pytest.raises(Exception, match="bad line"):
        call_command("import_gold", project.slug, str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert not GoldItem.objects.exists()
    stdout = io.StringIO()
    call_command("import_gold", project.slug, str(path), "--skip-bad-lines", stdout=stdout, stderr=io.StringIO())
    (item,) = GoldItem.objects.all()
    assert item.confirmed and item.tier.name == "hard" and item.reference == "Refund."
    assert "Imported 1 gold item" in stdout.getvalue()
    assert Prompt.objects.get(pk=ex.prompt_id).near_gold_id == item.id  # its near duplicate is now guarded


def test_an_unknown_tier_is_a_line_error(project):
    result = import_prompts(
        project, lines({"prompt": "Q?", "reference": "A.", "tier": "legendary"}), filename="g.jsonl", as_gold=True
    )
    assert not result.ok and result.errors[0].line == 1 and "legendary" in result.errors[0].reason


def test_per_project_threshold_changes_the_decision_and_the_flags(project, approved, gold_item):
    ex = approved(GREETING)
    hygiene.ensure_current(project)  # a prompt added by any path is checked before flags are read
    assert Prompt.objects.get(pk=ex.prompt_id).near_gold_id == gold_item.id
    hygiene.update_settings(project, {"near_threshold": 0.99})
    assert Prompt.objects.get(pk=ex.prompt_id).near_gold_id is None
    with pytest.raises(hygiene.check_settings.__globals__["Invalid"]) as bad:
        hygiene.update_settings(project, {"near_threshold": "lots", "colour": 1})
    assert set(bad.value.errors) == {"near_threshold", "colour"}


def test_semantic_similarity_catches_a_paraphrase_when_the_project_turns_it_on(project, approved):
    gold.create_gold_item(
        project,
        UserFactory(),
        prompt_text="How do I reset my password for the billing portal?",
        reference="Use the link.",
    )
    para = approved("I forgot my billing portal password, how can I reset it?")
    other = approved("How do I delete my account on the billing portal?")
    assert Prompt.objects.get(pk=para.prompt_id).near_gold_id is None  # lexically different
    hygiene.update_settings(project, {"semantic": True, "semantic_threshold": 0.85})
    flagged = Prompt.objects.get(pk=para.prompt_id)
    assert flagged.near_gold_kind == "semantic" and flagged.near_gold_similarity >= 0.85
    assert Prompt.objects.get(pk=other.prompt_id).near_gold_id is None
