"""The audit log: every change that matters, recorded once, read per project.

Writing: ``record`` is the one way in, called by the service that makes the change, inside
its transaction (so a change and its entry commit or roll back together). Memberships and
roles, API tokens, project settings, gold items, snapshots, jobs (launched, cancelled,
resumed at a gate), model specs and data edited in the admin go to ``AuditEntry``
(``curation.admin.AuditedAdmin`` records every add, change and delete made there).

Reading: some facts already have their own append-only rows: per-example decisions
(``Verdict``, and ``BulkAction`` for "apply to every match") and personal-data redactions
(``RedactionEvent``, one per replaced or judged span: its type and offsets, never the
value). ``entries`` reads them where they are and merges them with ``AuditEntry`` newest
first, so the page, the JSONL export and the API show one log while each fact keeps one home.

API tokens belong to a person, not to a project: a token acts in every project its owner
belongs to, with the owner's role there. Its entries are written once (no project) and read
on the log of every project whose members include, or once included, the token's owner
(and superusers, who act as engineers everywhere): the page answers "which keys could act
here", and an owner leaving a project takes nothing out of its history.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import uuid
from datetime import UTC, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import JSONField, Q, TextField
from django.utils import timezone

from curation.models import AuditEntry, BulkAction, RedactionEvent, Verdict
from curation.services.errors import Invalid

Kind = AuditEntry.Kind
# Read from their own tables (see the module docstring).
VERDICT, BULK, REDACTION = "verdict", "bulk", "redaction"
KINDS = [VERDICT, BULK, REDACTION, *Kind.values]
PAGE = 100


def record(kind: str, action: str, target, *, project=None, by=None, before=None, after=None, label=None) -> AuditEntry:
    """One audit entry: ``by`` did ``action`` to ``target`` (a model instance or words; ``label``: the
    words for an instance whose own would say too much, e.g. a prompt's text)."""
    if kind not in Kind.values:
        raise ValueError(f"unknown audit kind {kind!r}")
    actor = by if getattr(by, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        project=project,
        actor=actor,
        actor_name=actor.get_username() if actor else "",
        kind=kind,
        action=action,
        target=str(label or target)[:200],
        target_id=str(getattr(target, "pk", "") or "")[:64],
        before=before,
        after=after,
    )


def changed(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose value differs, from both sides."""
    keys = [k for k in {**before, **after} if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def state_of(obj, *, digest: bool = False, secret=()) -> dict:
    """What the log keeps of a row edited by hand (the admin): its editable fields, a related row
    by its id, many-to-many as sorted ids; never the fields named in ``secret``. ``digest``: text
    and JSON values as their sha256 prefix and length, for rows that may hold personal data
    (prompts, answers), which an append-only log must not keep. Times to the second."""
    out = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or not field.editable or field.name in secret:
            continue
        value = getattr(obj, field.attname)
        if isinstance(value, datetime):  # to the second: a form round trip drops microseconds, nobody chose to
            value = value.replace(microsecond=0)
        if digest and isinstance(field, (TextField, JSONField)) and value not in (None, "", [], {}):
            text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
            value = {"sha256": hashlib.sha256(text.encode()).hexdigest()[:16], "chars": len(text)}
        out[field.name] = value
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            out[field.name] = sorted(getattr(obj, field.name).values_list("pk", flat=True))
    return out


# ----------------------------------------------------------------- reading
def parse_filters(params) -> dict:
    """``person`` (a username), ``kind``, ``since``/``until`` (YYYY-MM-DD, both days included) and
    ``before`` (the page cursor: an ISO time, then ``~`` and the id of the last entry shown) from
    query parameters; ``Invalid`` names the field."""
    errors = Invalid()
    out = {}
    person = (params.get("person") or "").strip()
    if "\x00" in person:
        errors.add("person", "Not a username.")
    elif person:
        user = get_user_model().objects.filter(username=person).first()
        if user is None:
            errors.add("person", f"No user named {person!r}.")
        else:
            out["person"] = user
    kind = (params.get("kind") or "").strip()
    if kind:
        if kind not in KINDS:
            errors.add("kind", f"{kind!r} is not a kind of entry; choose one of {', '.join(KINDS)}.")
        else:
            out["kind"] = kind
    for field, shift in (("since", 0), ("until", 1)):
        raw = (params.get(field) or "").strip()
        if raw:
            try:
                day = datetime.strptime(raw, "%Y-%m-%d").date() + timedelta(days=shift)
            except (ValueError, OverflowError):
                errors.add(field, f"{raw[:40]!r} is not a date; write it as YYYY-MM-DD.")
            else:
                out[field] = datetime.combine(day, time.min, tzinfo=UTC)
    raw = (params.get("before") or "").strip()
    if raw:
        try:
            out["before"] = _cursor(raw)
        except ValueError:
            errors.add("before", "Not a cursor this log wrote (an ISO 8601 time, then ~ and an entry's id).")
    errors.raise_if_any()
    return out


# The merge order's tie-break between sources for entries written at the same instant; with the
# row's own key it makes the cursor ``<time>~<entry id>`` point between two entries exactly.
RANK = {"audit": 0, BULK: 1, VERDICT: 2, REDACTION: 3}


def _cursor(raw: str):
    """(time, rank, pk) of an ``<ISO time>~<entry id>`` cursor, or (time, None, None) for a bare time."""
    moment, _, entry_id = raw.partition("~")
    at = datetime.fromisoformat(moment)
    at = at if timezone.is_aware(at) else at.replace(tzinfo=UTC)
    if not entry_id:
        return at, None, None
    source, _, key = entry_id.partition("-")
    if source not in RANK:
        raise ValueError(entry_id)
    return at, RANK[source], uuid.UUID(key) if source == BULK else int(key)


def cursor_of(entry: dict) -> str:
    return f"{entry['at'].isoformat()}~{entry['id']}"


def _window(queryset, field, filters, rank):
    if "since" in filters:
        queryset = queryset.filter(created_at__gte=filters["since"])
    if "until" in filters:
        queryset = queryset.filter(created_at__lt=filters["until"])
    if "before" in filters:
        at, after_rank, after_pk = filters["before"]
        if after_rank is None or rank > after_rank:  # this source's entries at that instant came first
            queryset = queryset.filter(created_at__lt=at)
        elif rank < after_rank:
            queryset = queryset.filter(created_at__lte=at)
        else:
            queryset = queryset.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=after_pk))
    if "person" in filters:
        queryset = queryset.filter(**{field: filters["person"]})
    return queryset.order_by("-created_at", "-pk")


def _from_entry(e: AuditEntry) -> dict:
    return {
        "id": f"audit-{e.pk}",
        "at": e.created_at,
        "actor": e.actor_name or None,
        "kind": e.kind,
        "action": e.action,
        "target": e.target,
        "before": e.before,
        "after": e.after,
        "key": (e.created_at, RANK["audit"], e.pk),
    }


def _from_verdict(v: Verdict) -> dict:
    changes = v.changes or {}
    after = {k: pair[1] for k, pair in changes.items() if isinstance(pair, list) and len(pair) == 2}
    if v.comment:
        after["comment"] = v.comment
    return {
        "id": f"verdict-{v.pk}",
        "at": v.created_at,
        "actor": v.user.get_username() if v.user else None,
        "kind": VERDICT,
        "action": v.action,
        "target": f"example {v.example_id}",
        "before": {k: pair[0] for k, pair in changes.items() if isinstance(pair, list) and len(pair) == 2},
        "after": after,
        "key": (v.created_at, RANK[VERDICT], v.pk),
    }


def _from_bulk(b: BulkAction) -> dict:
    return {
        "id": f"bulk-{b.pk}",
        "at": b.created_at,
        "actor": b.user.get_username() if b.user else None,
        "kind": BULK,
        "action": b.action,
        "target": f"{b.count} example{'s' if b.count != 1 else ''} matching a filter",
        "before": None,
        "after": {"target": b.target, "filter": b.filter, "count": b.count},
        "key": (b.created_at, RANK[BULK], b.pk),
    }


def _from_redaction(r: RedactionEvent) -> dict:
    """Where and what kind of personal data, by whom or which job; never the value."""
    return {
        "id": f"redaction-{r.pk}",
        "at": r.created_at,
        "actor": r.user.get_username() if r.user else None,
        "kind": REDACTION,
        "action": r.action,
        "target": f"prompt {r.prompt_id}" if r.prompt_id else "a deleted prompt",
        "before": None,
        "after": {
            "entity": r.entity,
            "where": r.where,
            "part": r.part,
            "start": r.start,
            "end": r.end,
            "job": r.job_id,
            "snapshot": r.snapshot_id,
        },
        "key": (r.created_at, RANK[REDACTION], r.pk),
    }


def token_owners(project) -> set[str]:
    """Usernames whose API tokens reach ``project``: its members now and before, and superusers."""
    from curation.models import Membership

    names = set(Membership.objects.filter(project=project).values_list("user__username", flat=True))
    names |= set(get_user_model().objects.filter(is_superuser=True).values_list("username", flat=True))
    people = AuditEntry.objects.filter(project=project, kind__in=[Kind.MEMBERSHIP, Kind.ROLE])
    for before, after in people.values_list("before", "after"):
        names |= {side["user"] for side in (before, after) if isinstance(side, dict) and side.get("user")}
    return names


def _logged(project, kind):
    here = Q(project=project)
    if kind in (None, Kind.TOKEN):
        owners = sorted(token_owners(project))
        here |= Q(project__isnull=True, kind=Kind.TOKEN) & (Q(after__owner__in=owners) | Q(before__owner__in=owners))
    logged = AuditEntry.objects.filter(here)
    return logged.filter(kind=kind) if kind else logged


def entries(project, filters: dict | None = None, limit: int | None = None):
    """The project's log newest first, as dicts (id, at, actor, kind, action, target, before, after).

    ``limit`` reads at most that many rows from each source (a page); without it the rows
    stream (the JSONL export).
    """
    filters = filters or {}
    kind = filters.get("kind")
    sources = []
    if kind in (None, VERDICT):
        verdicts = Verdict.objects.filter(project=project, bulk_id__isnull=True).select_related("user")
        sources.append((_window(verdicts, "user", filters, RANK[VERDICT]), _from_verdict))
    if kind in (None, BULK):
        bulks = BulkAction.objects.filter(project=project).select_related("user")
        sources.append((_window(bulks, "user", filters, RANK[BULK]), _from_bulk))
    if kind in (None, REDACTION):
        redactions = RedactionEvent.objects.filter(project=project).select_related("user")
        sources.append((_window(redactions, "user", filters, RANK[REDACTION]), _from_redaction))
    if kind not in (VERDICT, BULK, REDACTION):
        sources.append((_window(_logged(project, kind), "actor", filters, RANK["audit"]), _from_entry))
    streams = [
        map(shape, queryset[:limit] if limit else queryset.iterator(chunk_size=2000)) for queryset, shape in sources
    ]
    merged = heapq.merge(*streams, key=lambda e: e["key"], reverse=True)
    for n, entry in enumerate(merged):
        if n == limit:
            return
        del entry["key"]
        yield entry


def page(project, filters: dict) -> tuple[list[dict], str | None]:
    """Up to ``PAGE`` entries and the cursor of the next (older) page, or None at the end."""
    rows = list(entries(project, filters, limit=PAGE + 1))
    if len(rows) <= PAGE:
        return rows, None
    rows = rows[:PAGE]
    return rows, cursor_of(rows[-1])


def as_json(entry: dict) -> dict:
    return {**entry, "at": entry["at"].isoformat()}
