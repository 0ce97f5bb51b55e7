"""The review queue's density in Chromium at 1280x900: compact rows (one line of prompt, one of
answer), the top label once per row, prompts shown from their beginning with the shared
instruction said once above the rows; and the gold list's instruction said once."""

import pytest

from curation.models import Prompt
from tests.factories import MembershipFactory, ProjectFactory, UserFactory
from tests.review_factories import GoldItemFactory, example_with_sample
from tests.test_review_browser import ARTIFACTS, chromium, login, serial_live_server, settle  # noqa: F401
from workers.demo.corpus import DRAFTING_INSTRUCTION, TRIAGE_INSTRUCTION, drafting_prompt, triage_prompt

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LABELS = ["billing", "account", "technical", "other"]
# Tickets as long as the demo's: each wraps over several lines unless the row clamps it.
TICKET = (
    "Hello, order {i} was charged twice on my card this month and the second charge of 49.{i:02d} EUR is still there; "
    "I cancelled the duplicate subscription last week, please refund it and confirm by email. Thanks, customer {i}"
)
GOLD_TICKET = "My password reset email {i} never arrived and now I am locked out of the team workspace."
REPLY = (
    "Thanks for writing in about order {i}. I am sorry for the double charge: I have refunded the second payment "
    "and you will see it on your statement within five working days.\n\nKind regards,\nThe support team"
)

ROWS_ON_SCREEN = """() => {
  const rows = Array.from(document.querySelectorAll('[data-row]'));
  return rows.filter((row) => row.getBoundingClientRect().bottom <= window.innerHeight).length;
}"""


@pytest.fixture
def queues(serial_live_server):
    triage = ProjectFactory(name="Ticket triage", slug="triage", task_type="classification", labels=LABELS)
    drafting = ProjectFactory(name="Reply drafting", slug="drafting")
    rita = UserFactory(username="rita")
    for project in (triage, drafting):
        MembershipFactory(user=rita, project=project, role="reviewer")
    for i in range(30):
        ticket = TICKET.format(i=i)
        label = LABELS[i % 4]
        example = example_with_sample(
            triage,
            response="",
            label=label,
            prompt=Prompt.objects.create(project=triage, text=triage_prompt(ticket), content_hash=f"t{i}"),
        )
        example.sample.predicted_label = label
        example.sample.label_distribution = {name: (0.91 if name == label else 0.03) for name in LABELS}
        example.sample.save()
        example_with_sample(
            drafting,
            response=REPLY.format(i=i),
            prompt=Prompt.objects.create(project=drafting, text=drafting_prompt(ticket), content_hash=f"d{i}"),
        )
        gold = triage_prompt(GOLD_TICKET.format(i=i))
        GoldItemFactory(prompt=Prompt.objects.create(project=triage, text=gold, content_hash=f"g{i}"), label=label)
    return {"url": serial_live_server}


def first_screen(page, name):
    """What the reviewer sees without scrolling (not the whole page)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def open_queue(chromium, base, slug):
    page = login(chromium, base, "rita")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/p/{slug}/review/")
    settle(page)
    return page


def test_a_1280x900_screen_shows_twelve_classification_rows(chromium, queues):
    page = open_queue(chromium, queues["url"], "triage")
    first_screen(page, "queue-density-triage.png")
    assert page.evaluate(ROWS_ON_SCREEN) >= 12
    row = page.locator("[data-row]").first
    label = row.locator(".label-cell").inner_text()
    top = label.split()[0]
    assert top in LABELS and row.inner_text().count(top) == 1, row.inner_text()  # the top label once
    prompt = row.locator(".prompt-cell").inner_text().strip()
    assert prompt.startswith("Ticket: Hello, order"), prompt  # its beginning, not "…" and a middle
    # The instruction every prompt shares is said once, above the rows, not in every row.
    assert page.locator(".shared-prompt").inner_text().count(TRIAGE_INSTRUCTION) == 1
    assert TRIAGE_INSTRUCTION not in page.locator(".table.queue").inner_text()
    page.context.close()


def test_a_1280x900_screen_shows_twelve_generation_rows_with_prompt_and_answer(chromium, queues):
    page = open_queue(chromium, queues["url"], "drafting")
    first_screen(page, "queue-density-drafting.png")
    assert page.evaluate(ROWS_ON_SCREEN) >= 12
    row = page.locator("[data-row]").first
    assert row.locator(".prompt-cell .prompt-line").inner_text().startswith("Ticket: Hello, order")
    assert row.locator(".prompt-cell .answer-line").inner_text().startswith("Thanks for writing in about order")
    assert DRAFTING_INSTRUCTION in page.locator(".shared-prompt").inner_text()
    page.context.close()


def test_the_gold_list_says_the_shared_instruction_once(chromium, queues):
    page = login(chromium, queues["url"], "rita")
    page.goto(f"{queues['url']}/p/triage/gold/")
    first_screen(page, "gold-shared-instruction.png")
    assert page.locator("table.gold tbody tr").count() == 30
    assert page.locator("main").inner_text().count(TRIAGE_INSTRUCTION) == 1
    first = page.locator("table.gold tbody tr").first.locator("td.prompt-cell").inner_text().strip()
    assert first.startswith("Ticket: My password reset email"), first
    page.context.close()
