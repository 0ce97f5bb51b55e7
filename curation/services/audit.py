"""The audit log: every change that matters, recorded once, read per project.

Writing: ``record`` is the one way in, called by the service that makes the change, inside
its transaction (so a change and its entry commit or roll back together). Memberships and
roles, API tokens, project settings, gold items, snapshots, jobs (launched, cancelled,
resumed at a gate) and redactions go to ``AuditEntry``.

Reading: per-example decisions already have their append-only rows (``Verdict``, and
``BulkAction`` for "apply to every match"); ``entries`` reads them where they are and
merges them with ``AuditEntry`` newest first, so the page, the JSONL export and the API
show one log while each fact keeps one home.
"""

from __future__ import annotations

import heapq
from datetime import UTC, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from curation.models import AuditEntry, BulkAction, Verdict
from curation.services.errors import Invalid

Kind = AuditEntry.Kind
# Read from their own tables (see the module docstring).
VERDICT, BULK = "verdict", "bulk"
KINDS = [VERDICT, BULK, *Kind.values]
PAGE = 100


def record(kind: str, action: str, target, *, project=None, by=None, before=None, after=None) -> AuditEntry:
    """One audit entry: ``by`` did ``action`` to ``target`` (a model instance or words)."""
    if kind not in Kind.values:
        raise ValueError(f"unknown audit kind {kind!r}")
    actor = by if getattr(by, "is_authenticated", False) else None
    return AuditEntry.objects.create(
        project=project,
        actor=actor,
        actor_name=actor.get_username() if actor else "",
        kind=kind,
        action=action,
        target=str(target)[:200],
        target_id=str(getattr(target, "pk", "") or "")[:64],
        before=before,
        after=after,
    )


def changed(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose value differs, from both sides."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


# ----------------------------------------------------------------- reading
def parse_filters(params) -> dict:
    """``person`` (a username), ``kind``, ``since``/``until`` (YYYY-MM-DD, both days included) and
    ``before`` (an ISO time, the page cursor) from query parameters; ``Invalid`` names the field."""
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
            moment = datetime.fromisoformat(raw)
        except ValueError:
            errors.add("before", "Not a time this log wrote (ISO 8601).")
        else:
            out["before"] = moment if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)
    errors.raise_if_any()
    return out


def _window(queryset, field, filters):
    if "since" in filters:
        queryset = queryset.filter(created_at__gte=filters["since"])
    if "until" in filters:
        queryset = queryset.filter(created_at__lt=filters["until"])
    if "before" in filters:
        queryset = queryset.filter(created_at__lt=filters["before"])
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
    }


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
        sources.append((_window(verdicts, "user", filters), _from_verdict))
    if kind in (None, BULK):
        bulks = BulkAction.objects.filter(project=project).select_related("user")
        sources.append((_window(bulks, "user", filters), _from_bulk))
    if kind not in (VERDICT, BULK):
        logged = AuditEntry.objects.filter(project=project)
        if kind:
            logged = logged.filter(kind=kind)
        sources.append((_window(logged, "actor", filters), _from_entry))
    streams = [
        map(shape, queryset[:limit] if limit else queryset.iterator(chunk_size=2000)) for queryset, shape in sources
    ]
    merged = heapq.merge(*streams, key=lambda e: e["at"], reverse=True)
    if limit is None:
        yield from merged
        return
    for n, entry in enumerate(merged):
        if n == limit:
            return
        yield entry


def page(project, filters: dict) -> tuple[list[dict], str | None]:
    """Up to ``PAGE`` entries and the cursor of the next (older) page, or None at the end."""
    rows = list(entries(project, filters, limit=PAGE + 1))
    if len(rows) <= PAGE:
        return rows, None
    rows = rows[:PAGE]
    return rows, rows[-1]["at"].isoformat()


def as_json(entry: dict) -> dict:
    return {**entry, "at": entry["at"].isoformat()}
