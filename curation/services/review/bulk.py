"""Bulk actions: approve / reject / set tier / move to stage for every example a filter matches.

Set-based SQL whatever the number of rows, in one transaction, with one audit
``Verdict`` row per changed example (before/after values, version + 1, one shared
``bulk_id``):

- PostgreSQL: ``WITH moved AS (UPDATE example ... WHERE <filter> AND status = 'pending'
  RETURNING ...) INSERT INTO verdict SELECT ... FROM moved``, one such statement per value
  the changed columns hold before (each status, approvals and conflict the filter holds,
  read once; a project's few tiers or stages),
  the action's own target first so no row is changed twice. The UPDATE locks each row as
  it writes it, and the audit row is made from that very change, with that statement's
  guard value as its "before", so no single action can slip in between the audit and
  the change. A row another transaction changed meanwhile is re-checked on its newest
  version; if it no longer matches the filter or the guard, it is skipped; if that
  leaves the total different from the count, the whole action is rolled back and redone
  the lock-first way below (which waits for the other writer). Each row is read and
  written once, in the UPDATE's own scan: recovering the old value by joining the table
  to itself read it twice, and locking first in a pass of its own dirtied every page twice.
- Lock-first (SQLite, and PostgreSQL after such a race): 1. ``INSERT INTO verdict
  (...) SELECT ... FROM example WHERE <filter> [FOR UPDATE]`` writes the audit rows; on
  PostgreSQL the rows are locked as they are read; SQLite's IMMEDIATE transactions
  already keep every other writer out. 2. ``UPDATE example SET ..., version = version
  + 1 WHERE <filter>``. The audited rows are locked, so they all still match; if a new
  row started matching in between, the row counts differ and the whole transaction is
  rolled back (``BulkCountChanged``), so no row ever changes without its audit row.

The reviewer confirmed a number; if the filter matches a different number now,
nothing is written (``BulkCountChanged``) and the page asks again with the new number.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import CharField, DateTimeField, F, IntegerField, UUIDField, Value, sql
from django.db.models.functions import Greatest, JSONArray, JSONObject
from django.utils import timezone

from curation.models import BulkAction, Example, ExampleStatus, Verdict
from curation.services.errors import ReviewError
from curation.services.projects import stage_named, tier_named
from curation.services.review import readiness

A = Verdict.Action
ACTIONS = {
    "approve": "Approve",
    "reject": "Reject",
    "tier": "Set tier",
    "stage": "Move to stage",
}
_VERDICT_COLUMNS = (
    "project_id",
    "example_id",
    "user_id",
    "action",
    "changes",
    "comment",
    "bulk_id",
    "version",
    "created_at",
)


class BulkCountChanged(Exception):
    def __init__(self, expected: int, actual: int):
        self.expected, self.actual = expected, actual
        super().__init__(
            f"The filter matched {expected:,} examples when you confirmed; it matches {actual:,} now. "
            "Nothing was changed: check the number and confirm again."
        )


@dataclass
class BulkPlan:
    """What a bulk action will do: checked before the confirmation page and again when applied."""

    action: str
    tier: object = None
    stage: object = None

    @property
    def target_name(self) -> str:
        target = self.tier if self.action == "tier" else self.stage if self.action == "stage" else None
        return target.name if target is not None else ""

    def describe(self, count: int, done: bool = False) -> str:
        noun = f"{count:,} example{'' if count == 1 else 's'}"
        if self.action == "tier" and self.tier is None:
            return f"{'Cleared' if done else 'Clear'} the tier of {noun}"
        if self.action == "tier":
            return f"Set the tier of {noun} to {self.target_name}"
        if self.action == "stage":
            return f"{'Moved' if done else 'Move'} {noun} to {self.target_name}"
        verb = {"approve": ("Approve", "Approved"), "reject": ("Reject", "Rejected")}[self.action][done]
        return f"{verb} {noun}"


def plan_bulk(project, action: str, to_tier: str = "", to_stage: str = "") -> BulkPlan:
    """Validate an action and its target by name; ReviewError naming the field."""
    if action not in ACTIONS:
        raise ReviewError(f"choose one of {', '.join(ACTIONS)}.", "action")
    if action == "approve" and project.require_second_approval:
        raise ReviewError(
            "this project needs a second approval by a different reviewer for every example, which a bulk "
            "approval would skip. Approve one by one, or turn second approval off in the project settings.",
            "action",
        )
    plan = BulkPlan(action)
    if action == "tier":
        plan.tier = tier_named(project, to_tier, field="to_tier", required=True)
    if action == "stage":
        plan.stage = stage_named(project, to_stage, field="to_stage")
    return plan


def _after(plan: BulkPlan):
    if plan.action in ("approve", "reject"):
        return ExampleStatus.APPROVED if plan.action == "approve" else ExampleStatus.REJECTED
    if plan.action == "tier":
        return plan.tier.name if plan.tier else None
    return plan.stage.name


def _changes(plan: BulkPlan):
    """(JSON {field: [before, after]} expression, UPDATE fields) for the plan."""
    if plan.action in ("approve", "reject"):
        status = ExampleStatus.APPROVED if plan.action == "approve" else ExampleStatus.REJECTED
        # reviewed_by/reviewed_at name the last individual review; a bulk decision is in the
        # history (its Verdict rows and BulkAction), and leaving them alone spares 100,000
        # index entries and foreign-key checks.
        update = {
            "status": status,
            "conflict": False,
            "leased_by": None,
            "lease_expires_at": None,
            "approvals": Greatest(F("approvals"), Value(1)) if plan.action == "approve" else 0,
        }
        # approvals and conflict are recorded too, so an undo restores them exactly.
        changes = JSONObject(
            status=JSONArray(F("status"), Value(status)),
            approvals=JSONArray(F("approvals"), update["approvals"] if plan.action == "approve" else Value(0)),
            conflict=JSONArray(F("conflict"), Value(False)),
        )
        return changes, update
    if plan.action == "tier":
        after = plan.tier.name if plan.tier else None
        update = {"tier": plan.tier, "tier_locked": plan.tier is not None}
        return JSONObject(tier=JSONArray(F("tier__name"), Value(after, output_field=CharField()))), update
    return JSONObject(stage=JSONArray(F("stage__name"), Value(plan.stage.name))), {"stage": plan.stage}


class _Raced(Exception):
    """A matching row changed while the one-statement path ran: redo it the lock-first way."""


def apply_bulk(
    project, user, queryset, plan: BulkPlan, *, expected: int, filter_description: dict | None = None
) -> BulkAction:
    """Apply ``plan`` to every example of ``queryset`` (one project's); see the module docstring."""
    if connection.vendor == "postgresql":
        try:
            return _apply(project, user, queryset, plan, expected, filter_description, one_statement=True)
        except _Raced:
            pass  # rolled back whole; the lock-first path below waits for the other writer
    return _apply(project, user, queryset, plan, expected, filter_description, one_statement=False)


@transaction.atomic
def _apply(project, user, queryset, plan, expected, filter_description, *, one_statement):
    started = time.perf_counter()
    count = queryset.count()
    if count != expected:
        raise BulkCountChanged(expected, count)
    if count == 0:
        raise ReviewError("No example matches this filter; nothing to do.")
    bulk = BulkAction.objects.create(
        project=project,
        user=user,
        action=plan.action,
        target=plan.target_name,
        filter=filter_description or {},
        count=count,
    )
    now = timezone.now()
    if one_statement:
        _tune_transaction()
        changed = _update_and_audit(project, user, queryset, plan, bulk, now)
        if changed != count:
            raise _Raced
    else:
        _audit_then_update(project, user, queryset, plan, bulk, now, count)
    bulk.seconds = round(time.perf_counter() - started, 3)
    bulk.save(update_fields=["seconds"])
    readiness.refresh(project)
    return bulk


def _tune_transaction():
    """Settings for this transaction only (PostgreSQL).

    work_mem: the filter's bitmap of 100,000 rows spread over the whole table stays exact
    (4 MB makes it lossy: every row of every page is rechecked). No JIT: compiling costs
    more than it saves on a statement that is all index and heap writes. The commit stays
    synchronous: a reviewer who was told "approved" must not lose the action to a crash.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', '64MB', true), set_config('jit', 'off', true)")


def _guards(project, queryset, plan: BulkPlan):
    """[(guard filter, its {field: [before, after]} audit constant)] over the values the plan changes.

    Decisions are guarded by each (status, approvals, conflict) the filter holds (one read
    of the filtered rows), so the audit row keeps every value an undo must restore; a tier
    or stage by each of the project's few tiers or stages. The plan's own target comes
    first: a row the first statements change then holds that value, which no later
    statement's guard matches, so no row is changed twice.
    """
    if plan.action in ("approve", "reject"):
        target = _after(plan)
        present = queryset.order_by().values_list("status", "approvals", "conflict").distinct()
        guards = []
        for status, approvals, conflict in sorted(set(present), key=lambda row: (row[0] != target, row)):
            after_approvals = max(approvals, 1) if plan.action == "approve" else 0
            guards.append(
                (
                    {"status": status, "approvals": approvals, "conflict": conflict},
                    {
                        "status": [status, target],
                        "approvals": [approvals, after_approvals],
                        "conflict": [conflict, False],
                    },
                )
            )
        return guards
    if plan.action == "tier":
        column, field, target = "tier_id", "tier", plan.tier.id if plan.tier else None
        values = [*project.tiers.order_by("order").values_list("id", "name"), (None, None)]
    else:
        column, field, target = "stage_id", "stage", plan.stage.id
        values = list(project.stages.order_by("order").values_list("id", "name"))
    values.sort(key=lambda value: value[0] != target)
    return [({column: value}, {field: [name, _after(plan)]}) for value, name in values]


def _update_and_audit(project, user, queryset, plan, bulk, now) -> int:
    """PostgreSQL: ``WITH moved AS (UPDATE ... RETURNING) INSERT INTO verdict ...``, once per "before" value.

    The audited columns (status with approvals and conflict, a tier or a stage) have only a
    handful of values, so the action runs as one statement per value they hold, each guarded
    by it (``AND status = 'pending' AND approvals = 0 AND NOT conflict``): every audit row's
    "before" is that statement's constant, and the table is read once, in the UPDATE's own
    scan, with no self-join to recover the old value. The UPDATE locks each row as it
    writes it; if another transaction changed a row since the statement's snapshot,
    PostgreSQL re-checks the filter and the guard on the newest version, so a row that no
    longer matches, or whose audited value moved, is skipped by this statement. It is then
    either changed by the statement for its new value (with that value as its "before") or
    missed, and the count comes out different from the confirmed one: the caller rolls
    back and redoes the action the lock-first way.
    """
    table = connection.ops.quote_name(Example._meta.db_table)
    insert = (
        f"INSERT INTO {Verdict._meta.db_table} ({', '.join(_VERDICT_COLUMNS)}) "
        f"SELECT %s, example_id, %s, %s, %s::jsonb, '', %s, version, %s FROM moved"
    )
    _, update = _changes(plan)
    changed = 0
    with connection.cursor() as cursor:
        for guard, changes in _guards(project, queryset, plan):
            query = queryset.filter(**guard).order_by().query.chain(sql.UpdateQuery)
            query.add_update_values({**update, "version": F("version") + 1, "updated_at": now})
            compiler = query.get_compiler(connection.alias)
            compiler.pre_sql_setup()
            update_sql, update_params = compiler.as_sql()
            cursor.execute(
                f"WITH moved AS ({update_sql} RETURNING {table}.id AS example_id, {table}.version AS version) {insert}",
                # {field: [before, after]} is the statement's constant: built once, not per row.
                [*update_params, project.id, user.id, plan.action, json.dumps(changes), bulk.id, now],
            )
            changed += cursor.rowcount
    return changed


def _audit_then_update(project, user, queryset, plan, bulk, now, count):
    """Two statements (SQLite, and PostgreSQL after a race): lock and audit, then update."""
    changes, update = _changes(plan)
    rows = (
        queryset.order_by()
        .annotate(
            b_project=Value(project.id),
            b_example=F("id"),
            b_user=Value(user.id, output_field=IntegerField()),
            b_action=Value(plan.action),
            b_changes=changes,
            b_comment=Value(""),
            b_bulk=Value(bulk.id, output_field=UUIDField()),
            b_version=F("version") + 1,
            b_created=Value(now, output_field=DateTimeField()),
        )
        .values_list(
            "b_project", "b_example", "b_user", "b_action", "b_changes", "b_comment", "b_bulk", "b_version", "b_created"
        )
    )
    select_sql, params = rows.query.sql_with_params()
    if connection.features.has_select_for_update_of:
        # Spelled out: Django drops ``of`` on values() querysets, and a plain FOR UPDATE
        # would also lock joined rows (the reviewer's user row, tiers) or fail on outer joins.
        select_sql += f" FOR UPDATE OF {connection.ops.quote_name(Example._meta.db_table)}"
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {Verdict._meta.db_table} ({', '.join(_VERDICT_COLUMNS)}) {select_sql}", params)
        audited = cursor.rowcount
    # The audited rows are locked, so none of them can change or stop matching; the same
    # filter now reaches them in index order (an id list would probe the table at random).
    # Only a row that started matching meanwhile could make the numbers differ.
    changed = queryset.order_by().update(**update, version=F("version") + 1, updated_at=now)
    if not audited == changed == count:
        raise BulkCountChanged(count, changed if changed != count else audited)
