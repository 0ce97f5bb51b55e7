"""bench/demo.py's report: the table of figures, the targets met or missed, and the JSON line."""

from __future__ import annotations

import json

TARGET_TEACHER, TARGET_QUALITY, TARGET_QUALITY_LOW, TARGET_SPEEDUP = 0.90, 0.97, 0.95, 5.0


def _fmt_ci(ci) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "n/a"


def _traffic_note(tr: dict) -> str:
    a = tr["all"]
    note = (
        f"95% CI {_fmt_ci(a['curation_gain_ci95'])}, {tr['n']} tickets drawn like the pool; teacher "
        f"{a['teacher']:.3f}, curated {a['curated']:.3f}, raw {a['raw']:.3f}"
    )
    if "field" in tr:
        fw = tr["field"]
        note += (
            f"; its {tr['n_field']} field-worded tickets: {fw['curation_gain']:+.3f} "
            f"{_fmt_ci(fw['curation_gain_ci95'])} "
            f"(teacher {fw['teacher']:.3f}, curated {fw['curated']:.3f}, raw {fw['raw']:.3f})"
        )
    return note


def report(f: dict, info: dict, first: float, second: float, *, smoke: bool) -> None:
    """Print the journey's figures ``f`` (the demo teacher's ``info``, the two set-up times) as a table,
    the targets, and the one JSON object the README's figures come from."""
    q, sp, ci, gain_ci = f["quality_retained"], f["speedup"], f["quality_retained_ci95"], f["curation_gain_ci95"]
    targets = {
        "teacher_accuracy": f["teacher_accuracy"] >= TARGET_TEACHER,
        "quality_retained": q is not None and q >= TARGET_QUALITY,
        "quality_retained_ci95_low": bool(ci) and ci[0] >= TARGET_QUALITY_LOW,
        "speedup": sp is not None and sp >= TARGET_SPEEDUP and f["same_threads"],
        "curation_gain_ci95_above_zero": bool(gain_ci) and gain_ci[0] > 0,
    }
    tiers = ", ".join(
        f"{k} {v:.3f}/{f['student_by_tier'].get(k, float('nan')):.3f}" for k, v in f["teacher_by_tier"].items()
    )
    chosen = f["selection"][f["chosen"]]
    tr = f["traffic"]
    rows = [
        (
            "teacher gold accuracy (triage)",
            f"{f['teacher_accuracy']:.3f}",
            f"{f['gold_items']} gold tickets, tiers {f['gold_tiers']}; teacher trained {info['steps']} steps "
            f"in {info['train_time_s']:.0f} s (target {TARGET_TEACHER})",
        ),
        (
            "student gold accuracy",
            f"{f['student_accuracy']:.3f}",
            f"kd_mode={f['kd_mode']}; recipe candidate {f['chosen']} of {len(f['selection'])}, chosen on dev "
            f"({chosen['dev_accuracy']:.3f}; validation rows {chosen['validation_accuracy']:.3f}), seed "
            f"{f['shipped_seed']} of its {f['curation_seeds']} shipped (best on dev)"
            + (f"; gates FORCED: {'; '.join(f['gates_forced'])}" if f["gates_forced"] else ""),
        ),
        ("accuracy by tier, teacher/student", "", tiers),
        ("student agreement with teacher", f"{f['agreement']:.3f}", "same top label"),
        (
            "quality retained",
            f"{q:.3f}" if q is not None else "n/a",
            f"95% CI {_fmt_ci(ci)} over {f['gold_items']} items; target >= {TARGET_QUALITY}, low end >= "
            f"{TARGET_QUALITY_LOW}",
        ),
        (
            "quality retained over the recipe's seeds",
            f"{f['quality_retained_over_seeds']:.3f}",
            f"95% CI {_fmt_ci(f['quality_retained_over_seeds_ci95'])} over items and {f['curation_seeds']} "
            f"curated students; on dev (the project's dev items, which chose the recipe and the shipped "
            f"seed {f['shipped_seed']}) curated {f['curated_dev_by_seed']}, raw {f['raw_dev_by_seed']}",
        ),
        (
            "latency p50 student / teacher",
            f"{f['student_p50_ms']:.2f} / {f['teacher_p50_ms']:.2f} ms",
            f"batch 1, label scoring, same gold tickets; threads {f['threads'][0]} / {f['threads'][1]}",
        ),
        (
            "speed-up (teacher p50 / student p50)",
            f"{sp:.2f}x" if sp is not None else "n/a",
            f"target >= {TARGET_SPEEDUP}x",
        ),
        (
            "curation gain (curated - raw gold accuracy)",
            f"{f['curation_gain']:+.3f}",
            f"95% CI {_fmt_ci(gain_ci)} over items and {f['curation_seeds']} seed(s); "
            f"curated {f['curated_gold_accuracy']:.3f} "
            f"{f['curated_by_seed']}, raw {f['raw_gold_accuracy']:.3f} {f['raw_by_seed']}; "
            f"SIMULATED expert (true corpus labels): {f['expert']}",
        ),
        ("future traffic: curated - raw (not gold)", f"{tr['all']['curation_gain']:+.3f}", _traffic_note(tr)),
        (
            "parameters student / teacher",
            f"{f['student_params']:,} / {f['teacher_params']:,}",
            f"{f['teacher_params'] / f['student_params']:.1f}x",
        ),
        ("teacher generation (triage)", f"{f['generation_s']:.1f} s", "label distributions"),
        ("curation (bulk, expert, 4 snapshots)", f"{f['curation_s']:.1f} s", ""),
        (f"distillation ({len(f['selection']) + 2 * f['curation_seeds'] - 1} students)", f"{f['distill_s']:.1f} s", ""),
        ("evaluation on the gold set", f"{f['evaluation_s']:.1f} s", "once, for the chosen student"),
        ("`manage.py demo --setup-only`, first run", f"{first:.1f} s", "migrate, seed, train the teacher"),
        ("`manage.py demo --setup-only`, second run", f"{second:.1f} s", "everything cached; must be < 30 s"),
    ]
    routed = f["routing"]["gold"]
    if routed:
        rows.append(
            (
                "routing: share the student serves at >= 99%",
                f"{routed['share']:.3f}",
                f"95% CI {_fmt_ci(routed['share_ci95'])}, {routed['served']} of {routed['n']} gold; threshold "
                f"{routed['threshold']} chosen on {f['routing']['validation']['n']} items of {f['routing']['basis']}; "
                f"mixed/teacher "
                f"{routed.get('relative', float('nan')):.3f} (CI {_fmt_ci(routed.get('relative_ci95'))}), "
                f"{'meets' if routed['meets_target'] else 'MISSES'} 99% on gold",
            )
        )
        rows.append(
            (
                "routing: cost of the mix / teacher alone",
                f"{routed['cost_ratio']:.3f}" if routed.get("cost_ratio") is not None else "n/a",
                "equal per-hour prices (same CPU): busy-time ratio, batch 1, on a loaded machine; "
                "a fallback pays student and teacher",
            )
        )
    else:
        rows.append(("routing", "n/a", "; ".join(f["routing"]["notes"] or ["no routing data"])))
    import _demo_drafting as demo_drafting

    gen_rows, gen_keys, gen_targets = demo_drafting.figures(f)
    rows[8:8] = gen_rows
    targets.update(gen_targets)
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>26}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>26}  {note}")
    for name, met in targets.items():
        print(f"target {name}: {'met' if met else 'MISSED'}")
    if smoke:
        print("(smoke run: tiny sizes, the figures mean nothing)")
    print(
        json.dumps(
            {
                "teacher_accuracy": round(f["teacher_accuracy"], 4),
                "student_accuracy": round(f["student_accuracy"], 4),
                "agreement": round(f["agreement"], 4) if f["agreement"] is not None else None,
                "quality_retained": round(q, 4) if q is not None else None,
                "quality_retained_ci95": [round(x, 4) for x in ci] if ci else None,
                "speedup": round(sp, 3) if sp is not None else None,
                "same_threads": f["same_threads"],
                "threads": f["threads"][0],
                "curation_gain": round(f["curation_gain"], 4),
                "curation_gain_ci95": [round(x, 4) for x in gain_ci],
                "curated_gold_accuracy": round(f["curated_gold_accuracy"], 4),
                "raw_gold_accuracy": round(f["raw_gold_accuracy"], 4),
                "curation_seeds": f["curation_seeds"],
                "curated_by_seed": f["curated_by_seed"],
                "raw_by_seed": f["raw_by_seed"],
                "curated_dev_by_seed": f["curated_dev_by_seed"],
                "raw_dev_by_seed": f["raw_dev_by_seed"],
                "quality_retained_over_seeds": round(f["quality_retained_over_seeds"], 4),
                "quality_retained_over_seeds_ci95": [round(x, 4) for x in f["quality_retained_over_seeds_ci95"]],
                "traffic": f["traffic"],
                "expert": {"simulated": True, "knowledge": "the corpus's true labels", **f["expert"]},
                "recipe_selection": {"on": "dev", "chosen": f["chosen"], "candidates": f["selection"]},
                "shipped_seed": f["shipped_seed"],
                "gold_items": f["gold_items"],
                "gold_tiers": f["gold_tiers"],
                "teacher_by_tier": f["teacher_by_tier"],
                "student_by_tier": f["student_by_tier"],
                "student_p50_ms": round(f["student_p50_ms"], 3),
                "teacher_p50_ms": round(f["teacher_p50_ms"], 3),
                "student_params": f["student_params"],
                "teacher_params": f["teacher_params"],
                "teacher_steps": info["steps"],
                "teacher_train_s": info["train_time_s"],
                "generation_s": round(f["generation_s"], 1),
                "distill_s": round(f["distill_s"], 1),
                "evaluation_s": round(f["evaluation_s"], 1),
                "demo_first_run_s": round(first, 1),
                "demo_second_run_s": round(second, 1),
                "gates_forced": len(f["gates_forced"]),
                "routing_share_at_99": round(routed["share"], 4) if routed else None,
                "routing_share_at_99_ci95": [round(x, 4) for x in routed["share_ci95"]] if routed else None,
                "routing_quality_at_99": round(routed["quality"], 4) if routed else None,
                "routing_quality_at_99_ci95": [round(x, 4) for x in routed["quality_ci95"]] if routed else None,
                "routing_relative_at_99_ci95": (
                    [round(x, 4) for x in routed["relative_ci95"]] if routed and routed.get("relative_ci95") else None
                ),
                "routing_meets_99_on_gold": routed["meets_target"] if routed else None,
                "routing_threshold": routed["threshold"] if routed else None,
                "routing_validation_n": f["routing"]["validation"]["n"] if routed else None,
                "routing_cost_ratio": (
                    round(routed["cost_ratio"], 4) if routed and routed.get("cost_ratio") is not None else None
                ),
                **gen_keys,
                "targets": targets,
                "targets_met": all(targets.values()),
                "smoke": bool(smoke),
            }
        )
    )
