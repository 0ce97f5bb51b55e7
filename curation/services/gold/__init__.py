"""The gold set: its items (``items``: one create and one update path for every surface, the answer
and purpose checks, search, candidates, the test and dev sets), the guard that keeps gold prompts
and their duplicates out of training, dev items included (``guard``: stored hashes, in SQL) and who
may see gold (``visibility``). Outside code imports this package only.
"""

from curation.services.gold.guard import (
    contamination,
    exact_gold_guarded,
    gold_guarded,
    training_eligible,
    with_gold_flag,
)
from curation.services.gold.items import (
    check_gold_answer,
    check_length,
    check_purpose,
    confirm_candidates,
    create_gold_item,
    dev_items,
    discard_candidate,
    search_gold,
    test_items,
    update_gold_item,
)
from curation.services.gold.visibility import READS_GOLD, hide_gold_from_readers, sees_gold

__all__ = [
    "READS_GOLD",
    "check_gold_answer",
    "check_length",
    "check_purpose",
    "confirm_candidates",
    "contamination",
    "create_gold_item",
    "dev_items",
    "discard_candidate",
    "exact_gold_guarded",
    "gold_guarded",
    "hide_gold_from_readers",
    "search_gold",
    "sees_gold",
    "test_items",
    "training_eligible",
    "update_gold_item",
    "with_gold_flag",
]
