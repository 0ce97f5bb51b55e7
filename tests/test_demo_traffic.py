"""bench/_demo_traffic.py: the future-traffic sample holds none of the project's prompts (pool or gold)."""

import pytest

from curation.models import Project, Prompt
from curation.services.demo import seed_demo


@pytest.mark.django_db
def test_future_traffic_is_drawn_like_the_pool_and_holds_none_of_the_projects_prompts():
    from bench._demo_traffic import future_traffic
    from workers.demo.corpus import normalize, triage_prompt

    seed_demo(log=lambda *_: None, with_teacher=False, sizes={"triage": (120, 40), "drafting": (8, 4)})
    project = Project.objects.get(slug="ticket-triage")
    tickets = future_traffic(project, 50)
    known = {normalize(p) for p in project.prompts.values_list("text", flat=True)}
    assert len(tickets) == 50 and not {normalize(triage_prompt(t.text)) for t in tickets} & known
    kinds = {t.template_id.split(".")[2][0] for t in tickets}
    assert kinds == {"t", "f"}  # the pool's mix: the teacher's training wordings and field wordings

    # A ticket that becomes one of the project's prompts is left out of the sample
    first = tickets[0]
    Prompt.objects.create(project=project, text=triage_prompt(first.text))
    again = future_traffic(project, 50)
    assert first not in again and len(again) == 50
