"""The ``field`` split: how production traffic words requests the demo teacher never trained on.

A real teacher meets wordings in production that it never saw, and errs on some of them; that is
what a domain expert's review is for. The demo teacher trains on the ``train`` templates only, so
on tickets written from those it is right almost every time, and an expert reviewing them would
find nothing to fix. The demo's pool therefore mixes in tickets written from these templates
(``corpus.pool_tickets``). They share no wording with ``train`` or with ``gold``: the gold set
stays a test of generalisation, and the product's gold guard has nothing to drop.

Same shapes as ``workers.demo.templates`` (intent templates, mixed templates, asides); they are
merged there under the split name ``field``.
"""

from __future__ import annotations

FIELD_TEMPLATES: dict[str, dict[str, list]] = {
    "billing": {
        "double_charge": [
            "Same {product} payment shows up [two times|twice] on my {card}, [{amount} each|both {amount}]. Only one was meant to happen.",
            "hey, my {card} got hit with {amount} for order {order} and then the exact same amount again. fix pls",
        ],
        "refund": [
            (
                "The {item} from order {order} is back in your warehouse [since {date}|already]. Where is my money?",
                "return_refund",
            ),
            "I'm [not satisfied|unhappy] with the {product} and would like the {amount} I paid reversed.",
        ],
        "invoice": [
            "[Accounting|Our auditor] wants a proper invoice with our address for the {amount} we paid on {date}.",
            ("The billing statement for {invoice} never landed in my inbox at {email}.", "resend_invoice"),
        ],
        "plan_change": [
            "[We'd like to|Looking to] move the whole team off the {product2} and onto the {product}. What would that do to our next bill?",
            ("Any cheaper rate for [charities|schools|open-source projects] on the {product}?", "discount"),
        ],
        "payment_failed": [
            "Renewal of the {product} [won't go through|is refused] with my {card}, the bank sees no attempt at all.",
            ("My {card} was replaced by the bank, where do I put in the new number for the {product}?", "update_card"),
        ],
    },
    "account": {
        "password_reset": [
            "Clicked 'forgot password' [several times|again and again] and the mail to {email} [never comes|stays missing].",
            "The new password I chose through the reset page [is refused|gets 'incorrect'] when I try it.",
        ],
        "locked_out": [
            "[Your system|The site] froze me out of my own account after I mistyped the password. Please let me back in.",
            "Sign-in says my user is disabled. I [did nothing wrong|paid on time], why can't I get in?",
        ],
        "two_factor": [
            "Security codes for login go to my old number, which I no longer have. How do I get past that step?",
            ("Is it possible to switch off the extra login code? It's a hassle on my {device}.", "disable_2fa"),
        ],
        "profile_change": [
            "I'd like the surname on my account updated, it's spelled wrong [everywhere|on every email].",
            ("I ended up with two logins, one with {email}. Can they become one account?", "merge"),
        ],
        "security": [
            "[Strange|Weird] logins from {city} in my history that were not me. What should I do?",
            ("Wipe my account and everything you store about me, I'm done with the service.", "delete"),
        ],
    },
    "technical": {
        "crash": [
            "{app} [dies|closes] without warning whenever I [rotate|turn] my {device} while in {feature}.",
            "Opening {feature} makes the whole {app} window vanish. Happens on the {device} as well.",
        ],
        "error_code": [
            "Saving any change gives me {error} [since this morning|{duration}]. Nothing gets stored.",
            "{app} throws {error} when I open {feature}. What is that supposed to mean?",
        ],
        "performance": [
            "Each click in {app} takes [ten|several] seconds to respond {duration}. Very sluggish.",
            ("Edits from my {device} only reach {app} [the next day|hours later], if at all.", "sync"),
        ],
        "feature_broken": [
            "The export button in {feature} produces an empty file [now|since the update].",
            ("My {device} no longer shows any alerts from {app}, though they're switched on.", "notifications"),
        ],
    },
    "other": {
        "delivery": [
            "Order {order} was [meant|due] to arrive by {date} and tracking shows nothing new. Where is it?",
            ("Please redirect order {order} to my sister's address in {city}.", "delivery_change"),
        ],
        "feedback": [
            ("Just a note to say {app} saved our team hours this week. Brilliant work.", "praise"),
            "Suggestion: [a dark theme|bulk export|a weekly digest] would make {app} even better.",
        ],
        "general_question": [
            ("Which languages does {app} support? I need [French|Italian|Portuguese].", "language"),
            ("Can I reach your support team on the phone, or only by email?", "contact"),
        ],
        "partnership": [
            "I write a newsletter about [productivity|startups] and would like to feature your company. Who can I talk to?",
            "Our conference in {city} is looking for sponsors. Would you be interested?",
        ],
    },
}

FIELD_MIXED: dict[str, list[tuple[str, str]]] = {
    "billing": [
        (
            "double_charge",
            "Your app froze when I paid, so I paid again and now {amount} is gone twice. Refund one of them.",
        ),
        ("downtime_refund", "I couldn't sign in for {duration} because of your outage, I want the days credited back."),
    ],
    "account": [
        (
            "locked_out",
            "After the failed payment you suspended my login. The card is updated now, please let me back in.",
        ),
        ("password_reset", "{app} crashed mid password change and now none of my passwords work. Help me sign in."),
    ],
    "technical": [
        ("crash", "Since I upgraded to the {product}, {app} closes every time I open {feature}."),
        ("error_code", "After logging in again, {feature} only shows {error}."),
    ],
    "other": [
        ("delivery", "I paid for express shipping but order {order} still hasn't arrived. Where is it?"),
        ("praise", "Your team sorted out my locked account so quickly, thank you all!"),
    ],
}

FIELD_ASIDES: dict[str, list[str]] = {
    "billing": ["My payments have all gone through fine."],
    "account": ["Logging in works, that's not the issue."],
    "technical": ["The app has been stable otherwise."],
    "other": ["You've always been great to deal with."],
}
