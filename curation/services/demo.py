"""Demo data for `make demo`: users, the two support-ticket projects, their prompts.

Idempotent: a second run finds everything in place and only starts the servers.
"""
from __future__ import annotations

import io
import json

from django.contrib.auth import get_user_model
from django.db import transaction

from curation.models import Membership, Project
from curation.services.imports import import_prompts

DEMO_PASSWORD = "demo-password"
DEMO_USERS = [("reviewer", "reviewer"), ("engineer", "engineer")]
TRIAGE_LABELS = ["billing", "account", "technical", "other"]
GUIDELINES = {
    "triage": (
        "## Triage guidelines\n\n- **billing**: charges, refunds, invoices, payment methods.\n"
        "- **account**: sign-in, passwords, 2FA, locked or deleted accounts.\n"
        "- **technical**: crashes, errors, bugs, performance.\n- **other**: everything else.\n\n"
        "When a ticket mixes intents, the label is the customer's main request."
    ),
    "drafting": (
        "## Reply guidelines\n\n- Polite, 1-3 sentences, no promises we cannot keep.\n"
        "- Address the customer's actual problem; ask for the order number when needed.\n"
        "- Reject replies that are off-topic, rude or invented."
    ),
}


def _users():
    users = get_user_model().objects
    made = {}
    for username, _role in DEMO_USERS:
        user, created = users.get_or_create(username=username)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        made[username] = user
    return made


@transaction.atomic
def _project(slug, name, task_type, labels, guidelines, users):
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        project = Project.create_with_defaults(
            slug=slug, name=name, task_type=task_type, labels=labels, guidelines=guidelines
        )
    for username, role in DEMO_USERS:
        Membership.objects.get_or_create(user=users[username], project=project, defaults={"role": role})
    return project


def _prompt_lines(kind, n_train=400, n_gold=60):
    """JSONL import lines for the demo projects, from the ticket generator."""
    from workers.demo import corpus

    train = corpus.generate_tickets(n_train, seed=1, split="train")
    gold = corpus.generate_tickets(n_gold, seed=2, split="gold")
    lines = []
    for t in train:
        prompt = corpus.triage_prompt(t.text) if kind == "triage" else corpus.drafting_prompt(t.text)
        lines.append({"prompt": prompt, "metadata": {"template": t.template_id, "ambiguous": t.ambiguous}})
    for t in gold:
        if kind == "triage":
            lines.append({"prompt": corpus.triage_prompt(t.text), "label": t.label})
        else:
            lines.append({"prompt": corpus.drafting_prompt(t.text), "reference": t.reply})
    return "\n".join(json.dumps(line) for line in lines).encode()


def seed_demo(log=print, with_teacher=True):
    users = _users()
    projects = {
        "triage": _project("ticket-triage", "Ticket triage", "classification", TRIAGE_LABELS, GUIDELINES["triage"], users),
        "drafting": _project("reply-drafting", "Reply drafting", "generation", [], GUIDELINES["drafting"], users),
    }
    for kind, project in projects.items():
        if project.prompts.exists():
            continue
        data = _prompt_lines(kind)
        result = import_prompts(project, io.BytesIO(data), filename="demo.jsonl", source="synthetic")
        log(f"{project.name}: imported {result.created} prompts ({result.gold_candidates} gold).")
        project.gold_items.update(confirmed=True)
    return projects
