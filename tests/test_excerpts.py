"""Queue rows say the instruction lines their prompts share once, show each prompt from its beginning
(the whole prompt in the title) and a search hit past the first line on a line of its own."""

import pytest
from django.urls import reverse

from curation.excerpts import search_hit, shared_leading_lines
from curation.models import Prompt
from tests.factories import ExampleFactory, PromptFactory

INSTRUCTION = "Classify this support ticket as billing, account, technical or other."


def test_it_finds_the_whole_lines_every_text_opens_with():
    texts = [f"{INSTRUCTION}\nTicket: refund me\nCategory:", f"{INSTRUCTION}\nTicket: reset my password\nCategory:"]
    assert shared_leading_lines(texts) == INSTRUCTION + "\n"


def test_it_never_cuts_inside_a_line():
    assert shared_leading_lines(["Ticket: refund me", "Ticket: reset it"]) == ""
    assert shared_leading_lines(["Hello\nworld one", "Hello\nworld two"]) == "Hello\n"


def test_it_needs_two_texts_and_leaves_something_of_each():
    assert shared_leading_lines([f"{INSTRUCTION}\nTicket: x"]) == ""
    assert shared_leading_lines([f"{INSTRUCTION}\n", f"{INSTRUCTION}\nTicket: x"]) == ""
    assert shared_leading_lines([f"{INSTRUCTION}\n  \n", f"{INSTRUCTION}\nTicket: x"]) == ""
    assert shared_leading_lines([]) == ""


@pytest.mark.django_db
def test_queue_rows_show_what_differs_and_the_whole_prompt_in_the_title(project, client_as):
    for ticket in ("I was charged twice", "I cannot log in"):
        ExampleFactory(prompt=PromptFactory(project=project, text=f"{INSTRUCTION}\nTicket: {ticket}\nCategory:"))
    page = client_as("reviewer").get(reverse("review-queue", args=[project.slug])).content.decode()
    flat = " ".join(page.split())  # the template wraps its lines
    # Each row from its beginning (no "…" before it), the instruction said once above the rows.
    assert '">Ticket: I was charged twice Category:</a>' in flat and "…" not in flat.split('class="shared-prompt"')[1]
    assert f'title="{INSTRUCTION}\nTicket: I cannot log in\nCategory:"' in page
    assert flat.count(f">{INSTRUCTION}<") == 1 and f"<q>{INSTRUCTION}</q>" in flat


@pytest.mark.django_db
def test_chat_prompts_are_cut_from_their_last_user_turn(project, client_as):
    for ticket in ("charged twice", "locked out"):
        messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"{INSTRUCTION}\n{ticket}"}]
        prompt = Prompt.objects.create(project=project, messages=messages, content_hash=ticket)
        ExampleFactory(prompt=prompt)
    page = client_as("reviewer").get(reverse("review-queue", args=[project.slug])).content.decode()
    assert '">locked out</a>' in page and '">charged twice</a>' in page
    assert f"<q>{INSTRUCTION}</q>" in page


@pytest.mark.django_db
def test_a_lone_row_keeps_its_whole_prompt(project, client_as):
    ExampleFactory(prompt=PromptFactory(project=project, text=f"{INSTRUCTION}\nTicket: only one"))
    page = client_as("reviewer").get(reverse("review-queue", args=[project.slug])).content.decode()
    assert f">{INSTRUCTION} Ticket: only one</a>" in page and 'class="shared-prompt"' not in page


def test_a_search_hit_past_the_first_line_gets_a_line_of_its_own():
    text = "Ticket: " + "the app was fine until yesterday, then " * 3 + "the REFUND page crashed."
    before, match, after = search_hit(text, "refund")
    assert match == "REFUND" and before.endswith("then the ") and after == " page crashed."
    assert search_hit("Ticket: refund me please", "refund") is None  # on the row's own line already
    assert search_hit(text, "nowhere") is None and search_hit(text, "") is None


@pytest.mark.django_db
def test_the_queue_keeps_the_prompts_beginning_and_shows_a_deep_hit_escaped(project, client_as):
    filler = "it worked for months and then one morning it stopped " * 2
    for ticket in (f"{filler}<b>refund</b> please", f"{filler}and the refund never came"):
        ExampleFactory(prompt=PromptFactory(project=project, text=f"{INSTRUCTION}\nTicket: {ticket}\nCategory:"))
    page = client_as("reviewer").get(reverse("review-queue", args=[project.slug]), {"q": "refund"}).content.decode()
    flat = " ".join(page.split())
    assert flat.count('">Ticket: it worked for months') == 2  # each row from its beginning
    assert flat.count("<mark>refund</mark>") == 2 and "&lt;b&gt;<mark>refund</mark>&lt;/b&gt;" in flat
    assert "<b>refund</b>" not in flat
