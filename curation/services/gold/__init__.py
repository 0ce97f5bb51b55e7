"""The gold set: its items (add, edit, confirm, discard) and its guard, which keeps gold prompts and
their duplicates out of training. Outside code imports this package only.
"""

from curation.services.gold.guard import GoldGuard, create_gold_item, guard_keys, update_gold_item
from curation.services.gold.items import (
    add_gold_prompt,
    check_gold_answer,
    check_length,
    confirm_candidates,
    contamination,
    discard_candidate,
    gold_guarded,
    search_gold,
    set_gold_answer,
    training_eligible,
    with_gold_flag,
)

__all__ = [
    "GoldGuard",
    "add_gold_prompt",
    "check_gold_answer",
    "check_length",
    "confirm_candidates",
    "contamination",
    "create_gold_item",
    "discard_candidate",
    "gold_guarded",
    "guard_keys",
    "search_gold",
    "set_gold_answer",
    "training_eligible",
    "update_gold_item",
    "with_gold_flag",
]
