from curation.models import GoldItem, Membership, Project, Prompt
from curation.services.demo import seed_demo


def test_seeding_the_demo_is_idempotent(db):
    seed_demo(log=lambda *_: None, with_teacher=False)
    counts = (Project.objects.count(), Prompt.objects.count(), GoldItem.objects.count(), Membership.objects.count())
    seed_demo(log=lambda *_: None, with_teacher=False)
    assert counts == (Project.objects.count(), Prompt.objects.count(), GoldItem.objects.count(), Membership.objects.count())
    triage = Project.objects.get(slug="ticket-triage")
    assert triage.task_type == "classification" and triage.labels == ["billing", "account", "technical", "other"]
    assert triage.gold_items.filter(confirmed=True).count() == triage.gold_items.count() > 0
    assert set(Membership.objects.filter(project=triage).values_list("user__username", "role")) == {
        ("reviewer", "reviewer"), ("engineer", "engineer"),
    }


def test_demo_gold_prompts_are_not_among_the_training_prompts(db):
    seed_demo(log=lambda *_: None, with_teacher=False)
    for project in Project.objects.all():
        gold = set(project.gold_items.values_list("content_hash", flat=True))
        training = project.prompts.exclude(gold_items__isnull=False).values_list("content_hash", flat=True)
        assert gold and not gold & set(training)
