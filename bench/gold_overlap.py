"""Why the demo's gold set is not drawn like its pool: what the product's gold guard would drop.

The demo's gold set comes from templates no training ticket uses. A gold set drawn like
production traffic (``corpus.pool_tickets`` with ``GOLD_SEED``: the pool's mix of wordings, none
of its tickets) would test the wordings the expert corrected, but the product's gold guard drops
every training prompt that is a near-duplicate of a gold one (``workers.hygiene.neardup``, word
bigrams, the project's default ``near_threshold``), and tickets written from one template are
near-duplicates of each other. This counts, for both gold sets, the pool prompts the guard would
drop (all of them, and those in field wordings, the ones the expert's corrections are on) and the
gold items that have no near-duplicate in the pool. The last line is one JSON object.

    .venv/bin/python bench/gold_overlap.py            # the demo's sizes (2,000 pool, 400 gold); seconds
    .venv/bin/python bench/gold_overlap.py --smoke    # small sizes, for the tests
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES, SMOKE_SIZES = (2000, 400), (200, 40)
NEAR_THRESHOLD = 0.5  # curation.services.hygiene.settings.DEFAULTS["near_threshold"] (a test keeps them equal)


def is_field(ticket) -> bool:
    from workers.demo.corpus import wording_split

    return wording_split(ticket) == "field"


def guard_drops(pool, gold, threshold: float = NEAR_THRESHOLD) -> dict:
    """What the gold guard would do to ``pool`` with ``gold`` as the gold set (prompts as the demo
    imports them)."""
    from workers.demo.corpus import triage_prompt
    from workers.hygiene.neardup import NearDupIndex

    pool_prompts, gold_prompts = [triage_prompt(t.text) for t in pool], [triage_prompt(t.text) for t in gold]
    gold_index, pool_index = NearDupIndex(threshold), NearDupIndex(threshold)
    gold_index.add_many(list(range(len(gold))), gold_prompts)
    pool_index.add_many(list(range(len(pool))), pool_prompts)
    dropped = [m is not None for m in gold_index.query_many(pool_prompts)]
    clean_gold = sum(m is None for m in pool_index.query_many(gold_prompts))
    field = [is_field(t) for t in pool]
    return {
        "gold": len(gold),
        "pool_dropped": sum(dropped),
        "pool_field": sum(field),
        "pool_field_dropped": sum(d and f for d, f in zip(dropped, field)),
        "gold_without_near_duplicate": clean_gold,
    }


def main(argv=None) -> dict:
    from workers.demo.corpus import GOLD_SEED, POOL_SEED, generate_tickets, normalize, pool_tickets

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    n_pool, n_gold = SMOKE_SIZES if args.smoke else SIZES
    pool = pool_tickets(n_pool, POOL_SEED)
    known = {normalize(t.text) for t in pool}
    like_pool = [t for t in pool_tickets(3 * n_gold, GOLD_SEED) if normalize(t.text) not in known][:n_gold]
    out = {
        "pool": n_pool,
        "near_threshold": NEAR_THRESHOLD,
        "gold_templates": guard_drops(pool, generate_tickets(n_gold, GOLD_SEED, "gold")),  # the demo's
        "gold_like_pool": guard_drops(pool, like_pool),
        "smoke": args.smoke,
    }
    for name in ("gold_templates", "gold_like_pool"):
        r = out[name]
        print(
            f"{name}: the guard drops {r['pool_dropped']} of {n_pool} pool prompts "
            f"({r['pool_field_dropped']} of its {r['pool_field']} field-worded ones); "
            f"{r['gold_without_near_duplicate']} of {r['gold']} gold items have no near-duplicate in the pool"
        )
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
