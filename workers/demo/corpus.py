"""A synthetic customer-support corpus for the demo: tickets, categories, replies.

``generate_tickets(n, seed, split)`` is deterministic: the same arguments give the
same tickets on every machine. ``split="gold"`` draws only from the gold template
pools (see ``workers.demo.templates``), so no gold ticket shares a wording with the
training corpus; within a split, tickets are unique after normalisation (the same
normalisation the app uses to deduplicate prompts). ``split="field"`` is production
wording the demo teacher never trains on (``workers.demo.field``); ``pool_tickets``
mixes it into the demo's pool, so the teacher errs there as a real one would.

Labels are single words: ``billing``, ``account``, ``technical``, ``other``
(display names in ``DISPLAY_NAMES``: Billing, Account access, Technical issue,
Other).

The labelling rule for mixed tickets: **the label is the primary intent, the
thing the customer asks us to do or fix now.** A second category that appears
only as the cause, as background, or as an already solved problem does not set
the label: "I couldn't log in for a week, so I'd like a refund" is ``billing``;
"my card was declined and my account got locked, please unlock it" is
``account``. Such tickets carry ``ambiguous=True``.

Noise: a share of tickets get seeded typos (adjacent swaps, drops, doubled
letters, neighbouring-key slips), greetings, sign-offs, lower case or shouting.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

from workers.demo import replies as R
from workers.demo import templates as T
from workers.demo.templates import DISPLAY_NAMES, LABELS

__all__ = [
    "CORPUS_VERSION",
    "DISPLAY_NAMES",
    "LABELS",
    "Ticket",
    "corpus_fingerprint",
    "drafting_prompt",
    "generate_tickets",
    "normalize",
    "pool_tickets",
    "triage_prompt",
    "write_import_files",
]

CORPUS_VERSION = 1
SPLITS = ("train", "gold", "field")
# The share of the demo pool written in field wordings (the rest: wordings the teacher trained on).
FIELD_SHARE = 0.3
# The demo projects' pool and gold set. The teacher's own check reads the same gold tickets, so
# `make demo`'s figure is the one every report shows (the teacher's recipe was chosen on seed 0's).
POOL_SEED = 1
GOLD_SEED = 2
# The dev set: more tickets drawn like gold (the gold templates, other seeds), minus any equal to a
# gold ticket. The teacher's and the student's recipes are chosen on it; the demo projects import it
# as their dev items, which selection reads and no report quotes.
DEV_SEEDS = (0, 3)
TRIAGE_INSTRUCTION = "Classify this support ticket as billing, account, technical or other."
DRAFTING_INSTRUCTION = "Write a short, polite reply to this support ticket."

MIXED_SHARE = 0.12
ASIDE_SHARE = 0.10
TYPO_SHARE = 0.3
LOWER_SHARE = 0.08
SHOUT_SHARE = 0.03

_ALTERNATION = re.compile(r"\[([^\[\]]*)\]")
_SLOT = re.compile(r"\{(\w+)\}")
_SPACE = re.compile(r"\s+")
_KEY_NEIGHBOURS = {
    "a": "qsz",
    "b": "vn",
    "c": "xv",
    "d": "sf",
    "e": "wr",
    "f": "dg",
    "g": "fh",
    "h": "gj",
    "i": "uo",
    "j": "hk",
    "k": "jl",
    "l": "k",
    "m": "n",
    "n": "bm",
    "o": "ip",
    "p": "o",
    "q": "wa",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "u": "yi",
    "v": "cb",
    "w": "qe",
    "x": "zc",
    "y": "tu",
    "z": "xa",
}


@dataclass(frozen=True)
class Ticket:
    text: str
    label: str
    reply: str
    template_id: str
    ambiguous: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def triage_prompt(text: str) -> str:
    """The triage (classification) project's prompt for one ticket."""
    return f"{TRIAGE_INSTRUCTION}\nTicket: {text}\nCategory:"


def drafting_prompt(text: str) -> str:
    """The drafting (generation) project's prompt for one ticket."""
    return f"{DRAFTING_INSTRUCTION}\nTicket: {text}\nReply:"


def normalize(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: what counts as the same prompt."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def corpus_fingerprint() -> str:
    """A short hash of everything that shapes the corpus; changes when a template does."""
    material = {
        "version": CORPUS_VERSION,
        "templates": T.TEMPLATES,
        "mixed": T.MIXED,
        "asides": T.ASIDES,
        "replies": R.REPLIES,
        "slots": T.SLOTS,
        "framing": [
            T.OPENERS,
            T.NAME_INTROS,
            T.SIGN_OFFS,
            T.PLAIN_CLOSERS,
            R.GREETINGS_NAMED,
            R.GREETINGS_ANON,
            R.REPLY_CLOSERS,
            TRIAGE_INSTRUCTION,
            DRAFTING_INSTRUCTION,
        ],
        "shares": [MIXED_SHARE, ASIDE_SHARE, TYPO_SHARE, LOWER_SHARE, SHOUT_SHARE],
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return f"v{CORPUS_VERSION}-{digest[:12]}"


def template_pool(split: str) -> dict[str, str]:
    """Every template id of ``split`` mapped to its raw text (tickets, mixed, asides)."""
    _check_split(split)
    tag = split[0]
    pool = {}
    for label, intents in T.TEMPLATES.items():
        for intent, splits in intents.items():
            for i, entry in enumerate(splits[split]):
                pool[f"{label}.{intent}.{tag}{i}"] = _template_text(entry)
    for label, splits in T.MIXED.items():
        for i, (_intent, text) in enumerate(splits[split]):
            pool[f"{label}.mixed.{tag}{i}"] = text
    for label, splits in T.ASIDES.items():
        for i, text in enumerate(splits[split]):
            pool[f"aside.{label}.{tag}{i}"] = text
    return pool


def generate_tickets(n: int, seed: int = 0, split: str = "train") -> list[Ticket]:
    """``n`` unique tickets, labels balanced (counts differ by at most one)."""
    _check_split(split)
    if n < 0:
        raise ValueError(f"n must be zero or more, got {n}")
    rng = random.Random(f"demo-corpus:{seed}:{split}")
    labels = [LABELS[i % len(LABELS)] for i in range(n)]
    rng.shuffle(labels)
    seen: set[str] = set()
    tickets = []
    for label in labels:
        for _attempt in range(200):
            ticket = _make_ticket(rng, label, split)
            key = normalize(ticket.text)
            if key not in seen:
                seen.add(key)
                tickets.append(ticket)
                break
        else:
            raise ValueError(
                f"could not make {n} unique {split} tickets: the templates ran out of variety at {len(tickets)}; "
                "ask for fewer"
            )
    return tickets


def dev_tickets(n_per_seed: int, n_gold: int = 400) -> list[Ticket]:
    """The dev set: ``n_per_seed`` gold-like tickets of each of ``DEV_SEEDS``, without the tickets
    equal (after normalisation) to one of the ``n_gold`` gold tickets or to an earlier dev ticket."""
    seen = {normalize(t.text) for t in generate_tickets(n_gold, GOLD_SEED, "gold")}
    out = []
    for seed in DEV_SEEDS:
        for ticket in generate_tickets(n_per_seed, seed, "gold"):
            key = normalize(ticket.text)
            if key not in seen:
                seen.add(key)
                out.append(ticket)
    return out


def pool_tickets(n: int, seed: int = 0) -> list[Ticket]:
    """The demo's production pool: ``n`` unique tickets, ``FIELD_SHARE`` of them in field wordings.

    Deterministic like ``generate_tickets``; the two kinds are interleaved in a seeded order.
    """
    n_field = round(n * FIELD_SHARE)
    tickets = generate_tickets(n - n_field, seed, "train") + generate_tickets(n_field, seed, "field")
    random.Random(f"demo-pool:{seed}").shuffle(tickets)
    if len({normalize(t.text) for t in tickets}) != len(tickets):
        raise ValueError(f"the train and field wordings of seed {seed} made the same ticket twice; try another seed")
    return tickets


def write_import_files(out_dir: str | Path, *, n_train: int = 600, n_gold: int = 200, seed: int = 0) -> dict[str, Path]:
    """Write the two demo projects' import files (JSONL, the app's import format).

    Training lines: ``{"prompt": ..., "metadata": {...}}``. Gold lines:
    ``{"prompt": ..., "label": ...}`` (triage) or ``{"prompt": ..., "reference": ...}``
    (drafting). Returns the four paths by name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train = pool_tickets(n_train, seed)
    gold = generate_tickets(n_gold, seed, "gold")
    files = {
        "triage_prompts": [_training_line(triage_prompt(t.text), t) for t in train],
        "triage_gold": [{"prompt": triage_prompt(t.text), "label": t.label} for t in gold],
        "drafting_prompts": [_training_line(drafting_prompt(t.text), t) for t in train],
        "drafting_gold": [{"prompt": drafting_prompt(t.text), "reference": t.reply} for t in gold],
    }
    paths = {}
    for name, lines in files.items():
        path = out / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as f:
            for line in lines:
                f.write(json.dumps(line, ensure_ascii=False) + "\n")
        paths[name] = path
    return paths


def _training_line(prompt: str, ticket: Ticket) -> dict:
    metadata = {
        "category": ticket.label,
        "template_id": ticket.template_id,
        "ambiguous": ticket.ambiguous,
        "corpus": corpus_fingerprint(),
    }
    return {"prompt": prompt, "metadata": metadata}


def wording_split(ticket: Ticket) -> str:
    """The split whose templates wrote ``ticket``'s request ("train", "gold" or "field"): the
    tag of its template id (``label.intent.<tag><i>``), which ``_make_ticket`` writes."""
    tag = ticket.template_id.split(".")[2][0]
    return next(split for split in SPLITS if split[0] == tag)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")


def _make_ticket(rng: random.Random, label: str, split: str) -> Ticket:
    tag = split[0]
    slots = _draw_slots(rng)
    ambiguous = False
    mixed = T.MIXED[label][split]
    if rng.random() < MIXED_SHARE:
        i = rng.randrange(len(mixed))
        reply_key, template = mixed[i]
        template_id = f"{label}.mixed.{tag}{i}"
        ambiguous = True
        body = _expand(rng, template)
    else:
        intent = rng.choice(sorted(T.TEMPLATES[label]))
        pool = T.TEMPLATES[label][intent][split]
        i = rng.randrange(len(pool))
        template_id = f"{label}.{intent}.{tag}{i}"
        body = _expand(rng, _template_text(pool[i]))
        reply_key = pool[i][1] if isinstance(pool[i], tuple) else intent
        if rng.random() < ASIDE_SHARE:
            other = rng.choice([c for c in LABELS if c != label])
            asides = T.ASIDES[other][split]
            j = rng.randrange(len(asides))
            template_id += f"+aside.{other}.{tag}{j}"
            ambiguous = True
            body = f"{body} {_expand(rng, asides[j])}"
    used = set(_SLOT.findall(body))
    text, named = _frame(rng, body)
    if named:
        used.add("name")
    text = _noise(rng, _fill(text, slots))
    reply = _reply(rng, label, reply_key, slots, used)
    return Ticket(text=text, label=label, reply=reply, template_id=template_id, ambiguous=ambiguous)


def _expand(rng: random.Random, template: str) -> str:
    text = _ALTERNATION.sub(lambda m: rng.choice(m.group(1).split("|")), template)
    return _SPACE.sub(" ", text).replace(" .", ".").replace(" ,", ",").strip()


def _fill(text: str, slots: dict[str, str]) -> str:
    return _capitalize(_SLOT.sub(lambda m: slots[m.group(1)], text))


def _capitalize(text: str) -> str:
    """Upper-case the first letter of every sentence (slot values are lower case mid-sentence)."""
    return re.sub(r"(^|[.!?]\s+|\(\s*)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def _frame(rng: random.Random, body: str) -> tuple[str, bool]:
    parts = []
    opener = rng.choice(T.OPENERS)
    if opener:
        parts.append(opener)
    named = False
    roll = rng.random()
    if roll < 0.15:
        parts.append(rng.choice(T.NAME_INTROS))
        named = True
    parts.append(body)
    if 0.15 <= roll < 0.5:
        parts.append(rng.choice(T.SIGN_OFFS))
        named = True
    elif roll >= 0.8:
        parts.append(rng.choice(T.PLAIN_CLOSERS))
    return " ".join(parts), named


def _noise(rng: random.Random, text: str) -> str:
    if rng.random() < TYPO_SHARE:
        text = _typos(rng, text, rng.randint(1, 3))
    roll = rng.random()
    if roll < LOWER_SHARE:
        text = text.lower()
    elif roll < LOWER_SHARE + SHOUT_SHARE:
        text = text.rstrip(".!") + "!!!"
    return text


def _typos(rng: random.Random, text: str, count: int) -> str:
    """``count`` random character edits, each inside a word of four or more letters."""
    chars = list(text)
    for _ in range(count):
        words = [m.span() for m in re.finditer(r"[A-Za-z]{4,}", "".join(chars))]
        if not words:
            break
        start, end = rng.choice(words)
        pos = rng.randrange(start + 1, end - 1)
        kind = rng.choice(("swap", "drop", "double", "slip"))
        if kind == "swap":
            chars[pos], chars[pos + 1] = chars[pos + 1], chars[pos]
        elif kind == "drop":
            del chars[pos]
        elif kind == "double":
            chars.insert(pos, chars[pos])
        else:
            lower = chars[pos].lower()
            chars[pos] = rng.choice(_KEY_NEIGHBOURS.get(lower, lower))
    return "".join(chars)


def _template_text(entry: str | tuple[str, str]) -> str:
    return entry if isinstance(entry, str) else entry[0]


def _reply(rng: random.Random, label: str, reply_key: str, slots: dict[str, str], used: set[str]) -> str:
    bodies = [b for b in R.REPLIES[label][reply_key] if set(_SLOT.findall(b)) <= used]
    body = _fill(rng.choice(bodies), slots)
    greetings = R.GREETINGS_NAMED if "name" in used else R.GREETINGS_ANON
    if body.startswith("Thank"):
        greetings = [g for g in greetings if not g.startswith("Thank")]
    greeting = rng.choice(greetings)
    parts = [_fill(greeting, slots), body]
    if body.count(". ") + body.count("! ") + body.count("? ") == 0 and rng.random() < 0.5:
        parts.append(rng.choice(R.REPLY_CLOSERS))
    return " ".join(parts)


def _draw_slots(rng: random.Random) -> dict[str, str]:
    slots = {name: rng.choice(values) for name, values in T.SLOTS.items()}
    if slots["product2"] == slots["product"]:
        slots["product2"] = "free plan"
    currency = rng.choice(("$", "€", "£"))
    slots["amount"] = (
        f"{currency}{rng.choice((4, 9, 12, 19, 24, 29, 49, 79, 99, 149, 199))}.{rng.choice(('00', '99', '50'))}"
    )
    month = rng.choice(
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        )
    )
    slots["date"] = rng.choice(
        (
            f"{month} {rng.randint(1, 28)}",
            "last Tuesday",
            "yesterday",
            "last Friday",
            f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}",
            f"the {rng.randint(1, 28)}th",
        )
    )
    digits = rng.randint(10000, 99999)
    slots["order"] = rng.choice((f"#A{digits}", f"{digits // 10}-{rng.randint(1000, 9999)}", f"ORD-{digits}"))
    slots["invoice"] = f"INV-{rng.randint(2022, 2025)}-{rng.randint(1, 9999):04d}"
    slots["error"] = rng.choice(
        (
            "error 500",
            "error 403",
            "error 502",
            f"E-{rng.randint(1000, 1999)}",
            "code 0x80070005",
            "ERR_CONNECTION_RESET",
            "SYNC_TIMEOUT",
            f"error {rng.randint(600, 999)}",
        )
    )
    local = rng.choice(T.SLOTS["name"]).lower().replace("á", "a")
    slots["email"] = f"{local}{rng.randint(1, 99)}@{rng.choice(('example.com', 'mail.test', 'inbox.example'))}"
    slots["days"] = rng.choice(("5", "10", "14", "three", "ten"))
    return slots
