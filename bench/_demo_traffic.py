"""bench/demo.py's second measure of curation: the students on a sample of **future traffic**.

The gold set is a test of generalisation: its templates are used nowhere else, and the
product's gold guard drops any training prompt that is a near-duplicate of a gold one. The
teacher's errors, though, are all on the pool's *field* wordings, and gold holds none of them;
so on gold, curation can only show if the expert's corrections carry over to other wordings.
Production traffic repeats the wordings it already sent. This sample is drawn like the pool
(``corpus.pool_tickets``: the same mix of wordings, another seed), none of its tickets being a
pool or gold ticket after normalisation, labelled by the corpus. It is not gold and never
selects anything: it says what the student would get right on the next tickets.
"""

from __future__ import annotations

TRAFFIC_SEED = 7


def future_traffic(project, n: int) -> list:
    """``n`` tickets drawn like the pool, none of them one of the project's prompts."""
    from workers.demo.corpus import normalize, pool_tickets, triage_prompt

    known = {normalize(text) for text in project.prompts.values_list("text", flat=True)}
    drawn = pool_tickets(2 * n, TRAFFIC_SEED)
    fresh = [t for t in drawn if normalize(triage_prompt(t.text)) not in known]
    if len(fresh) < n:
        raise SystemExit(f"future traffic: only {len(fresh)} of {2 * n} drawn tickets are new; ask for fewer")
    return fresh[:n]


def correct(model_dir, tickets) -> list[float]:
    from workers.demo.evaluation import load, triage_predictions

    model, tok = load(model_dir)
    return [float(p == t.label) for p, t in zip(triage_predictions(model, tok, tickets), tickets)]


def figures(tickets, teacher_dir, curated_dirs, raw_dirs) -> dict:
    """Teacher, curated and raw students on ``tickets``: accuracies, and curated minus raw with a
    95% paired bootstrap over tickets and seeds, on all of them and on the field-worded ones."""
    from workers.stats import paired_bootstrap

    teacher = correct(teacher_dir, tickets)
    curated = [correct(d, tickets) for d in curated_dirs]
    raw = [correct(d, tickets) for d in raw_dirs]
    from workers.demo.corpus import wording_split

    field = [i for i, t in enumerate(tickets) if wording_split(t) == "field"]
    out = {"n": len(tickets), "n_field": len(field), "seed": TRAFFIC_SEED}
    for part, idx in (("all", range(len(tickets))), ("field", field)):
        idx = list(idx)
        if not idx:
            continue
        cut = [[row[i] for i in idx] for row in curated]
        rut = [[row[i] for i in idx] for row in raw]
        gain = paired_bootstrap(cut, rut)
        out[part] = {
            "teacher": round(sum(teacher[i] for i in idx) / len(idx), 4),
            "curated": round(sum(map(sum, cut)) / (len(idx) * len(cut)), 4),
            "raw": round(sum(map(sum, rut)) / (len(idx) * len(rut)), 4),
            "curation_gain": round(gain.estimate, 4),
            "curation_gain_ci95": [round(gain.low, 4), round(gain.high, 4)],
        }
    return out
