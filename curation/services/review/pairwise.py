"""Blind side-by-side review: one prompt, two answers, sides shuffled and unlabelled.

``create_comparison`` pairs, per gold item of a generation report, the student's answer (A)
with the teacher's (B), or with another report's student on the same gold item (version A
against version B). Which answer shows on the left is drawn per pair from the operating
system's random source when the comparison is made (``PairItem.a_on_left``), so neither a
side nor an order tells a reviewer which model wrote what, and pages never name them.

Reviewers work as in the queue: ``claim_next_pair`` leases the next open pair for
``REVIEW_LEASE_SECONDS`` (the queue's lease rules, ``leases.free_for``; PostgreSQL skips
rows another claim holds, and a conditional UPDATE takes a row only while it is free);
with ``second_pass`` a pair needs two reviewers' verdicts, pairs waiting for their second
come first, and never to the reviewer who gave the first. ``decide_pair`` records what the
reviewer pressed (left, right, tie, both_bad) and what it means (A better, B better, ...).

``pair_results``: A's win rate = A better / (A better + B better), ties and "both bad"
counted apart, with a Wilson interval, overall and by tier; 50% = parity. The losses
(B better) are listed so a reviewer can turn one into a curated example
(``example_from_loss``: the prompt with the better answer, pending in the pool).
"""

from __future__ import annotations

import random

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from curation.models import EvalReport, Example, PairComparison, PairItem, PairVerdict, Prompt
from curation.services import hygiene
from curation.services.errors import ReviewError
from curation.services.review.leases import free_for, lease_length

CHOICES = {"left", "right", "tie", "both_bad"}
NOTE_LIMIT = 2000
_SIDES = random.SystemRandom()


def _outputs(report: EvalReport) -> dict[int, tuple[str, str, str]]:
    """{gold id: (student answer, teacher answer, tier)} of a generation report."""
    per = report.per_item or {}
    ids, tiers = per.get("gold_ids") or [], per.get("tiers") or []
    students, teachers = per.get("student_outputs"), per.get("teacher_outputs")
    if students is None or teachers is None:
        raise ReviewError("this report keeps no answers to compare: evaluate the model again", "report_a")
    return {
        gid: (s, t, (tiers[i] if i < len(tiers) else None) or "")
        for i, (gid, s, t) in enumerate(zip(ids, students, teachers))
        if gid is not None
    }


def _label(report: EvalReport) -> str:
    version = report.model_version
    return f"{version.name if version else 'deleted version'} (report #{report.pk})"


@transaction.atomic
def create_comparison(project, report_a: EvalReport, report_b: EvalReport | None = None, *, by=None,
                      second_pass: bool = False) -> PairComparison:  # fmt: skip
    """Pairs for every gold item both sides answered (A = ``report_a``'s student; B = its
    teacher, or ``report_b``'s student)."""
    from curation.models import GoldItem

    if report_a.project_id != project.id or (report_b is not None and report_b.project_id != project.id):
        raise ReviewError("not a report of this project", "report_a")
    if report_b is not None and report_b.pk == report_a.pk:
        raise ReviewError("choose two different reports", "report_b")
    a = _outputs(report_a)
    if report_b is None:
        pairs = {gid: (s, t, tier) for gid, (s, t, tier) in a.items()}
        label_b = f"teacher {report_a.teacher_spec.name if report_a.teacher_spec else '(deleted)'}"
    else:
        b = _outputs(report_b)
        pairs = {gid: (a[gid][0], b[gid][0], a[gid][2]) for gid in a if gid in b}
        label_b = f"student {_label(report_b)}"
    gold = {g.pk: g for g in GoldItem.objects.filter(project=project, pk__in=list(pairs)).select_related("prompt")}
    pairs = {gid: v for gid, v in pairs.items() if gid in gold}
    if not pairs:
        raise ReviewError("no gold item has an answer from both sides (were the gold items deleted?)", "report_b")
    comparison = PairComparison.objects.create(
        project=project, report_a=report_a, report_b=report_b, label_a=f"student {_label(report_a)}",
        label_b=label_b, second_pass=second_pass, created_by=by,
    )  # fmt: skip
    PairItem.objects.bulk_create(
        PairItem(
            comparison=comparison,
            gold_item=gold[gid],
            prompt=gold[gid].prompt,
            tier=tier,
            answer_a=answer_a,
            answer_b=answer_b,
            a_on_left=_SIDES.random() < 0.5,
        )
        for gid, (answer_a, answer_b, tier) in sorted(pairs.items())
    )
    return comparison


def _open_for(comparison: PairComparison, user, now):
    judged = PairVerdict.objects.filter(item__comparison=comparison, user=user).values("item_id")
    return PairItem.objects.filter(comparison=comparison, done=False).filter(free_for(user, now)).exclude(pk__in=judged)


def release_pair_leases(comparison: PairComparison, user) -> None:
    PairItem.objects.filter(comparison=comparison, leased_by=user).update(leased_by=None, lease_expires_at=None)


@transaction.atomic
def claim_next_pair(comparison: PairComparison, user) -> PairItem | None:
    """Lease the next open pair to ``user`` (pairs waiting for a second verdict first); None when none is free."""
    now = timezone.now()
    release_pair_leases(comparison, user)
    candidates = _open_for(comparison, user, now)
    groups = [candidates.filter(verdicts__gte=1), candidates] if comparison.second_pass else [candidates]
    locking = connection.features.has_select_for_update_skip_locked
    for group in groups:
        for _ in range(8):  # a lost race moves on to the next row
            rows = group.order_by("id")
            if locking:
                rows = rows.select_for_update(skip_locked=True, of=("self",))
            row = rows.first()
            if row is None:
                break
            taken = (
                PairItem.objects.filter(pk=row.pk, done=False)
                .filter(free_for(user, now))
                .update(leased_by=user, lease_expires_at=now + lease_length())
            )
            if taken:
                return PairItem.objects.get(pk=row.pk)
    return None


@transaction.atomic
def decide_pair(item: PairItem, user, choice: str, note: str = "") -> PairVerdict:
    """Record a reviewer's verdict on a pair: ``choice`` is what they pressed (left, right, tie, both_bad)."""
    if choice not in CHOICES:
        raise ReviewError(f"choose one of {', '.join(sorted(CHOICES))}", "choice")
    note = (note or "").strip()
    if len(note) > NOTE_LIMIT:
        raise ReviewError(f"the note is {len(note)} characters; at most {NOTE_LIMIT}", "note")
    item = PairItem.objects.select_for_update().select_related("comparison").get(pk=item.pk)
    now = timezone.now()
    if item.done:
        raise ReviewError("this pair has all its verdicts already", "item", code="conflict")
    if item.leased_by_id and item.leased_by_id != user.id and item.lease_expires_at > now:
        raise ReviewError("another reviewer holds this pair right now", "item", code="conflict")
    if choice in ("left", "right"):
        a_won = (choice == "left") == item.a_on_left
        outcome = PairVerdict.Outcome.A_BETTER if a_won else PairVerdict.Outcome.B_BETTER
    else:
        outcome = PairVerdict.Outcome.TIE if choice == "tie" else PairVerdict.Outcome.BOTH_BAD
    try:
        with transaction.atomic():
            verdict = PairVerdict.objects.create(
                item=item, user=user, outcome=outcome, chose=choice, a_on_left=item.a_on_left, note=note
            )
    except IntegrityError:
        raise ReviewError("you already gave this pair your verdict", "item", code="conflict") from None
    needed = item.comparison.verdicts_needed
    PairItem.objects.filter(pk=item.pk).update(
        verdicts=F("verdicts") + 1,
        done=Case(When(verdicts__gte=needed - 1, then=Value(True)), default=Value(False)),
        leased_by=None,
        lease_expires_at=None,
    )
    return verdict


def _win_rate(verdicts: list[str]) -> dict:
    from workers.stats import wilson

    wins = verdicts.count(PairVerdict.Outcome.A_BETTER)
    losses = verdicts.count(PairVerdict.Outcome.B_BETTER)
    out = {
        "verdicts": len(verdicts),
        "a_better": wins,
        "b_better": losses,
        "ties": verdicts.count(PairVerdict.Outcome.TIE),
        "both_bad": verdicts.count(PairVerdict.Outcome.BOTH_BAD),
        "win_rate": None,
        "ci95": None,
    }
    if wins + losses:
        iv = wilson(wins, wins + losses)
        out.update(win_rate=iv.estimate, ci95=iv.ci)
    return out


def pair_results(comparison: PairComparison) -> dict:
    """A's win rate over B with a Wilson interval, overall and by tier, and the losses."""
    rows = list(PairVerdict.objects.filter(item__comparison=comparison).values_list("outcome", "item__tier", "item_id"))
    by_tier: dict[str, list[str]] = {}
    for outcome, tier, _ in rows:
        by_tier.setdefault(tier or "untiered", []).append(outcome)
    loss_ids = sorted({item for outcome, _, item in rows if outcome == PairVerdict.Outcome.B_BETTER})
    total = comparison.items.count()
    return {
        "overall": _win_rate([r[0] for r in rows]),
        "by_tier": {tier: _win_rate(v) for tier, v in sorted(by_tier.items())},
        "pairs": total,
        "pairs_done": comparison.items.filter(done=True).count(),
        "losses": list(PairItem.objects.filter(pk__in=loss_ids).select_related("prompt")),
    }


@transaction.atomic
def example_from_loss(item: PairItem, user, prompt_text: str, response: str) -> Example:
    """A pending example in the pool, written from a pair A lost: a new prompt in the lost one's
    spirit and a good answer. The pair's prompt is a gold prompt, which never trains, so the
    same prompt (after normalisation) is refused: the example must not copy the test set."""
    from curation.models import GoldItem
    from curation.normalize import content_hash

    if not PairVerdict.objects.filter(item=item, outcome=PairVerdict.Outcome.B_BETTER).exists():
        raise ReviewError("only a pair A lost becomes an example this way", "item")
    prompt_text, response = (prompt_text or "").strip(), (response or "").strip()
    if not prompt_text:
        raise ReviewError("write the example's prompt", "prompt")
    if not response:
        raise ReviewError("write the example's answer", "response")
    project = item.comparison.project
    digest = content_hash(prompt_text)
    if GoldItem.objects.filter(project=project, prompt__content_hash=digest).exists():
        raise ReviewError(
            "this is a gold prompt (or the same after normalisation), and gold never trains: "
            "write a new prompt that asks for the same skill",
            "prompt",
        )
    prompt, created = Prompt.objects.get_or_create(
        project=project, content_hash=digest, defaults={"text": prompt_text, "source": Prompt.Source.HUMAN}
    )
    if created:
        hygiene.after_prompts_added(project, [prompt.pk], by=user)
    return Example.objects.create(project=project, prompt=prompt, stage=project.pool, response=response)
