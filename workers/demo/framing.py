"""The demo corpus's mixed (ambiguous) templates and the material that frames every ticket:
asides, openers, sign-offs and slot values (the category templates are in
``workers.demo.templates``, which re-exports these)."""

from __future__ import annotations

# Ambiguous by design: (reply pool of the primary category, template). The request
# decides the label; the other category is only cause, background or solved.
MIXED: dict[str, dict[str, list[tuple[str, str]]]] = {
    "billing": {
        "train": [
            (
                "downtime_refund",
                "I couldn't log in for {duration} [because of the outage|after your update], so I'd like a refund for the days I couldn't use the {product}.",
            ),
            (
                "double_charge",
                "After resetting my password I noticed you charged me {amount} twice. Please refund the duplicate.",
            ),
            (
                "double_charge",
                "The app crashed during checkout and now I see two charges of {amount}. I want one refunded.",
            ),
            (
                "wrong_plan",
                "My account page shows the {product} but I was billed for the {product2}. Please correct the charge.",
            ),
            (
                "double_charge",
                "The app froze on the payment page, I tried again and now I've paid {amount} twice. Please refund one payment.",
            ),
            (
                "renewal_refund",
                "I deleted my account last month but you still renewed my {product} for {amount}. I want that money back.",
            ),
        ],
        "gold": [
            (
                "downtime_refund",
                "Since I was locked out of my account most of last month, I shouldn't have to pay the {amount} renewal. Please credit it back.",
            ),
            (
                "refund",
                "Your site threw {error} at checkout, yet the {amount} still left my {card}. I need that money returned.",
            ),
        ],
    },
    "account": {
        "train": [
            (
                "locked_out",
                "My card was declined [so|and then] my account got [suspended|locked]. I've updated the card, please [restore access|unlock my account].",
            ),
            (
                "password_reset",
                "I paid for the {product} but I can't log in to use it, the password reset email never arrives.",
            ),
            (
                "password_reset",
                "The app crashed while I was changing my password and now [neither password works|I can't sign in]. Please help me get back into my account.",
            ),
            ("profile_change", "I want to update my account email to {email}, the invoices should go there too."),
            ("locked_out", "I've paid my {product} invoice, but my login is still blocked. Please unlock my account."),
            (
                "two_factor",
                "The app works fine, but I no longer get the verification code to sign in on my new {device}.",
            ),
        ],
        "gold": [
            (
                "locked_out",
                "The renewal went through fine ({amount}), but ever since, the login page rejects my password. How do I get in?",
            ),
            ("two_factor", "After the update froze on my {device} I got logged out, and now the 2FA codes don't work."),
        ],
    },
    "technical": {
        "train": [
            (
                "error_code",
                "I [just upgraded|paid for the upgrade] to the {product} but {feature} [still shows|gives] {error}. [Please fix this.|What's wrong?]",
            ),
            ("crash", "I can log in fine, but right after that {app} crashes on my {device}."),
            ("error_code", "Not a billing question: the invoice page itself shows {error} when I open it."),
            ("crash", "After I changed my password the app [keeps crashing|freezes] on startup on my {device}."),
            ("sync", "My subscription is active and I can sign in, but my changes on the {device} don't sync anymore."),
            ("crash", "The refund arrived, thanks. But now {app} crashes every time I open {feature}."),
        ],
        "gold": [
            (
                "error_code",
                "The payment went through and my account is fine, but {feature} won't load at all, just {error}.",
            ),
            ("feature_broken", "Downloading my receipts fails with {error} every time. I just need the page to work."),
        ],
    },
    "other": {
        "train": [
            (
                "location",
                "My login and payments have been smooth. I'm writing to ask whether you have an office in {city}.",
            ),
            ("shipping", "The refund you processed last week arrived, thanks! Separately, do you ship to {city}?"),
            ("hours", "The double charge was refunded quickly, thanks! Separately, what are your weekend hours?"),
            ("delivery", "Thanks for fixing the crash so quickly. Could you tell me when order {order} will arrive?"),
            (
                "language",
                "The login issue I reported is resolved. Now I'd like to know if {app} is available in German.",
            ),
            ("delivery", "I paid for order {order} {duration} and the payment is fine, but where is the package?"),
            ("praise", "I had trouble logging in at first, but your team sorted it out. Just wanted to say thanks!"),
        ],
        "gold": [
            (
                "contact",
                "Glad the double charge got sorted last month. Quick question: do you have a phone line for support?",
            ),
            (
                "suggestion",
                "The app runs fine again after the update, so here's an idea: a shared calendar view for teams.",
            ),
        ],
    },
}

# Side remarks appended to a single-intent ticket of another category; they name
# a category without asking anything of it.
ASIDES: dict[str, dict[str, list[str]]] = {
    "billing": {
        "train": [
            "[My payment went through without problems.|Billing is fine, the invoice was correct.]",
            "Not asking for a refund, just so you know.",
        ],
        "gold": ["The charge on my card itself looks right."],
    },
    "account": {
        "train": [
            "(My login problem from last week is fixed, by the way.)",
            "I also reset my password yesterday and that part worked fine.",
        ],
        "gold": ["Signing in is no trouble at all, just so you know."],
    },
    "technical": {
        "train": ["The app itself works fine otherwise.", "The earlier crash was solved by updating."],
        "gold": ["Everything else in the app runs smoothly."],
    },
    "other": {
        "train": ["Love the product by the way!", "Your team has always been great to me."],
        "gold": ["Big fan of what you're building."],
    },
}

OPENERS = [
    "",
    "",
    "",
    "Hi,",
    "Hello,",
    "Hey there,",
    "Good morning,",
    "Hi support,",
    "Dear team,",
    "Hello support team,",
]
# ``{name}`` sign-offs let a reply greet the customer by name.
NAME_INTROS = ["{name} here.", "This is {name}."]
SIGN_OFFS = ["Thanks, {name}", "Regards, {name}", "- {name}", "Thank you! {name}", "Best, {name}", "Cheers, {name}"]
PLAIN_CLOSERS = ["Thanks.", "Thank you!", "Thanks in advance.", "Any help appreciated."]

SLOTS: dict[str, list[str]] = {
    "name": [
        "Anna",
        "Ben",
        "Carlos",
        "Diana",
        "Emeka",
        "Fatima",
        "George",
        "Hana",
        "Ivan",
        "Julia",
        "Kenji",
        "Lena",
        "Mateo",
        "Nadia",
        "Oliver",
        "Priya",
        "Quinn",
        "Rosa",
        "Sam",
        "Tomás",
        "Uma",
        "Victor",
        "Wei",
        "Yusuf",
        "Zoe",
    ],
    "name2": ["Marco", "Alice", "Raj", "Sofia", "Tom", "Leila", "Chris", "Ingrid"],
    "product": [
        "Pro plan",
        "Team plan",
        "Basic plan",
        "Premium membership",
        "Family plan",
        "Business plan",
        "Starter plan",
    ],
    "product2": ["Basic plan", "Starter plan", "Team plan", "free plan", "Pro plan"],
    "item": [
        "wireless headphones",
        "smart speaker",
        "USB-C dock",
        "fitness tracker",
        "phone case",
        "mechanical keyboard",
        "webcam",
    ],
    "card": ["Visa ending in 4242", "Mastercard ending in 1881", "Amex ending in 0005", "PayPal account", "debit card"],
    "device": [
        "iPhone 13",
        "Pixel 7",
        "Galaxy S22",
        "MacBook Air",
        "Windows 11 laptop",
        "iPad",
        "Chromebook",
        "Android tablet",
    ],
    "app": ["the mobile app", "the desktop app", "the web dashboard", "the browser extension", "your app"],
    "feature": [
        "the report builder",
        "calendar sync",
        "file sharing",
        "the export tool",
        "team chat",
        "the photo editor",
        "invoices download",
    ],
    "city": ["Berlin", "Austin", "Lagos", "Toronto", "Lyon", "Osaka", "Melbourne", "Bogotá", "Leeds", "Pune"],
    "duration": [
        "since Monday",
        "for two days",
        "since the last update",
        "all week",
        "since this morning",
        "for three days",
    ],
}
