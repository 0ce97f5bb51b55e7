"""Review: one reviewer's decisions on one example, bulk actions by filter, "next for me" leases,
the review queue's filter, curriculum stages and tiers, and reviewer statistics.

Modules: ``decisions`` (approve, reject, edit, grade, tier, stage, label, comment, gold; the
optimistic lock and the audit row; ``apply``, the one entry the focus view and the verdicts API
call), ``bulk`` (one statement per filter), ``leases``,
``filters`` (the shared example filter and keyset pages), ``curriculum`` (stage and tier
lists), ``stats`` (per-day counts, agreement). Outside code imports this package only.
"""

from curation.services.review.bulk import ACTIONS, BulkCountChanged, apply_bulk, plan_bulk
from curation.services.review.curriculum import add_level, move_level, remove_level, rename_level
from curation.services.review.decisions import (
    DECISIONS,
    Decided,
    ReviewError,
    StaleExample,
    add_to_gold,
    apply,
    approve,
    comment,
    demote,
    edit,
    grade,
    move_to_stage,
    promote,
    reject,
    set_label,
    set_tier,
)
from curation.services.review.filters import (
    DEFAULT_ORDER,
    ORDER_LABELS,
    ORDERINGS,
    PARAMS,
    ExampleFilter,
    Page,
    adjacent,
    cursor_at,
    decode_cursor,
    filter_description,
    filtered_examples,
    keyset_page,
)
from curation.services.review.leases import claim_next, leased_to_someone_else
from curation.services.review.pairwise import (
    CHOICES as PAIR_CHOICES,
)
from curation.services.review.pairwise import (
    NOTE_LIMIT as PAIR_NOTE_LIMIT,
)
from curation.services.review.pairwise import (
    claim_next_pair,
    create_comparison,
    decide_pair,
    example_from_loss,
    pair_results,
)
from curation.services.review.stats import agreement, cohens_kappa, reviewed_per_day, stage_progress, status_matrix

__all__ = [
    "ACTIONS",
    "DECISIONS",
    "DEFAULT_ORDER",
    "ORDERINGS",
    "ORDER_LABELS",
    "PAIR_CHOICES",
    "PAIR_NOTE_LIMIT",
    "PARAMS",
    "BulkCountChanged",
    "Decided",
    "ExampleFilter",
    "Page",
    "ReviewError",
    "StaleExample",
    "add_level",
    "add_to_gold",
    "adjacent",
    "agreement",
    "apply",
    "apply_bulk",
    "approve",
    "claim_next",
    "claim_next_pair",
    "cohens_kappa",
    "comment",
    "create_comparison",
    "cursor_at",
    "decide_pair",
    "decode_cursor",
    "demote",
    "edit",
    "example_from_loss",
    "filter_description",
    "filtered_examples",
    "grade",
    "keyset_page",
    "leased_to_someone_else",
    "move_level",
    "move_to_stage",
    "pair_results",
    "plan_bulk",
    "promote",
    "reject",
    "remove_level",
    "rename_level",
    "reviewed_per_day",
    "set_label",
    "set_tier",
    "stage_progress",
    "status_matrix",
]
