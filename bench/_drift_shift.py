"""The planted shift of ``bench/drift.py``: a ticket category the demo corpus never had (shipping and
delivery of physical orders) and a changed length profile (a customer's backstory before the ticket).

Written for the benchmark only; the demo corpus (``workers.demo``) stays as it is. Deterministic per seed.
"""

from __future__ import annotations

import random

from workers.demo.corpus import generate_tickets, triage_prompt

NEW_CATEGORY = "shipping"
SHIPPING = [
    "My parcel with order {order} was marked as delivered [yesterday|on Monday] but nothing arrived at my door.",
    "The courier left the package for order {order} with a neighbour I [don't know|have never met]. [Who do I ask?|Can you trace it?]",
    "Tracking for {order} has said 'in transit' for [nine|twelve] days. [Is it lost?|When will it come?]",
    "The box arrived [crushed|soaked|torn open] and the {item} inside is missing. [Please send a new one.|What now?]",
    "Can you change the delivery address of order {order} to my office? [It hasn't shipped yet.|I moved last week.]",
    "Your driver tried to deliver while I was home and left a card saying nobody answered. [Rebook please.|This is the third time.]",
    "Customs is holding order {order} and asking me for an import fee. [Was that not included?|Who pays it?]",
    "I ordered express shipping for {order} and paid extra, but it took [a week|eight days] anyway.",
    "Only one of the [two|three] boxes of order {order} turned up. Where is the rest?",
    "The pickup point you chose for {order} is [closed for renovation|forty minutes away]. Can it go somewhere else?",
]
BACKSTORY = [
    "I have been a loyal customer for more than six years and have recommended you to all of my friends and colleagues at work,",
    "Before I start, I want to say that I usually never write to support and I really tried to solve this myself first by reading every help page,",
    "Let me give you some context: I run a small bakery, I use your service every single day for the orders and the invoices of my shop,",
    "This is my third attempt to explain this, the chat window closed twice on me and I had to start over each time from the very beginning,",
    "I am writing on behalf of my elderly father who does not use computers much and asked me to handle his account and his subscription,",
]
ITEMS = ["charger", "keyboard", "headset", "phone case", "webcam"]


def _expand(rng: random.Random, template: str) -> str:
    out, i = [], 0
    while i < len(template):
        if template[i] == "[":
            j = template.index("]", i)
            out.append(rng.choice(template[i + 1 : j].split("|")))
            i = j + 1
        else:
            out.append(template[i])
            i += 1
    return "".join(out)


def shipping_ticket(rng: random.Random) -> str:
    text = _expand(rng, rng.choice(SHIPPING))
    return text.format(order=f"#{rng.randint(100000, 999999)}", item=rng.choice(ITEMS))


def _traffic(size: int, seed: int):
    """``size`` demo tickets drawn at random from a larger balanced batch, so a window's label counts
    vary as real traffic's do (``generate_tickets`` alone balances labels exactly)."""
    pool = generate_tickets(size * 3, seed, "train")
    return random.Random(f"drift-traffic:{seed}").sample(pool, size)


def clean_window(size: int, seed: int) -> tuple[list[str], list[str]]:
    """(prompts, labels) of ``size`` demo triage tickets: production traffic like the training set."""
    tickets = _traffic(size, seed)
    return [triage_prompt(t.text) for t in tickets], [t.label for t in tickets]


def shifted_window(size: int, seed: int, new_share: float, long_share: float) -> tuple[list[str], list[str]]:
    """A window where ``new_share`` of the tickets are shipping tickets (the production model, which has no
    such label, answers "other") and ``long_share`` of the rest open with a long backstory."""
    rng = random.Random(f"drift-shift:{seed}")
    n_new = round(size * new_share)
    tickets = _traffic(size - n_new, seed)
    prompts, labels = [], []
    for t in tickets:
        text = f"{rng.choice(BACKSTORY)} {t.text[0].lower()}{t.text[1:]}" if rng.random() < long_share else t.text
        prompts.append(triage_prompt(text))
        labels.append(t.label)
    for _ in range(n_new):
        prompts.append(triage_prompt(shipping_ticket(rng)))
        labels.append("other")
    order = list(range(size))
    rng.shuffle(order)
    return [prompts[i] for i in order], [labels[i] for i in order]


def _stem(template: str) -> str:
    cut = min((i for i in (template.find("{"), template.find("[")) if i >= 0), default=len(template))
    return template[:cut]


STEMS = [_stem(t) for t in SHIPPING]


def is_planted(prompt: str) -> bool:
    """Whether ``prompt`` carries the planted shift: a shipping ticket or a backstory."""
    return any(b in prompt for b in BACKSTORY) or any(f"Ticket: {stem}" in prompt for stem in STEMS)
