"""The demo corpus's raw material: ticket templates, asides and slot values (the replies
are in ``workers.demo.replies``).

Template syntax: ``{slot}`` is filled from ``SLOTS`` (one value per ticket, shared
with the reply), ``[a|b|c]`` picks one paraphrase (an empty alternative is allowed).
Every category has separate ``train`` and ``gold`` template pools: the gold set is
written in wordings the training corpus never sees, so gold accuracy measures
generalisation, not memorisation.

Mixed templates are the ambiguous cases: one intent is asked for, another
category is mentioned as cause, background or an already solved problem. Their
label is the category of the request (see ``workers.demo.corpus``).
"""

from __future__ import annotations

LABELS = ("billing", "account", "technical", "other")
DISPLAY_NAMES = {
    "billing": "Billing",
    "account": "Account access",
    "technical": "Technical issue",
    "other": "Other",
}

# category -> intent -> split -> templates; a (text, reply_key) pair picks a more
# specific reply pool than the intent's own.
TEMPLATES: dict[str, dict[str, dict[str, list[str]]]] = {
    "billing": {
        "double_charge": {
            "train": [
                "I was [charged|billed] twice for my {product} on {date}. [Please refund the duplicate payment.|Can you reverse one of the charges?|I only expect to pay once.]",
                "There are two identical charges of {amount} on my {card} for the {product}. [Can you refund one of them?|Please fix this.|Which one is the mistake?]",
                "[Why|How come] did you take {amount} from my [account|card] twice [this month|on {date}]? I [need|want] the extra payment back.",
                "Double charge on my statement: {amount} appears twice for order {order}. [Please refund one.|Kindly sort this out.]",
                "My bank shows the {product} payment [went through|was taken] two times. I'd like a refund for the [duplicate|second] one.",
                "You charged my {card} {amount} two times for the same {product} subscription.",
                "I see a duplicate payment on my bank statement for order {order}. Please return the extra {amount}.",
                "Got billed double this month ({amount} each time). [Refund the duplicate please.|I want the second charge reversed.]",
                "charged twice?? {amount} and {amount} on {date}",
                "We run a small business and noticed our {product} subscription was paid twice on {date}. Could the second payment be returned?",
            ],
            "gold": [
                "Looking at my {card} statement I see you billed {amount} and then billed {amount} again [a minute later|the same day]. One of those has to go back to me.",
                "duplicate transaction!! {amount} x2 for {product}, [pls|please] return the extra money",
            ],
        },
        "refund": {
            "train": [
                (
                    "I [cancelled|canceled] my {product} on {date} but [was still charged|still got charged] {amount}. [I want a refund.|Please refund me.]",
                    "renewal_refund",
                ),
                (
                    "Can I get a refund for order {order}? The {item} arrived [broken|damaged] and I [already sent it back|returned it].",
                    "return_refund",
                ),
                "[I'd like|I would like|Requesting] a refund of {amount} for my {product}, I [didn't use it at all|haven't used it since {date}].",
                (
                    "Please [refund|reimburse] the {amount} renewal charge from {date}, I forgot to turn off auto-renew.",
                    "renewal_refund",
                ),
                (
                    "It's been {days} days and my refund for order {order} [still hasn't|hasn't] [arrived|shown up] on my {card}.",
                    "refund_status",
                ),
                ("I returned the {item} on {date}, when do I get my money back?", "return_refund"),
                "Please give me my money back for the {product}, it [is not what I expected|doesn't do what I need].",
                ("I was promised a refund of {amount} {duration} but nothing has been credited yet.", "refund_status"),
                "refund request: {product}, {amount}",
                (
                    "My trial ended and I was billed {amount} even though I cancelled before the end. Please send the money back.",
                    "renewal_refund",
                ),
            ],
            "gold": [
                (
                    "Money back please. The renewal of my {product} went through on {date} and I never wanted it renewed.",
                    "renewal_refund",
                ),
                (
                    "When will the {amount} you owe me for the returned {item} be credited? The return was processed on {date}.",
                    "return_refund",
                ),
                "I'd like the {amount} returned to my {card}, I cancelled within the trial period.",
            ],
        },
        "invoice": {
            "train": [
                "Could you send me [an invoice|a receipt] for order {order}? [I need it for my expense report.|My accountant needs it.]",
                (
                    "Invoice {invoice} has the wrong [company name|VAT number|billing address]. Can you [issue a corrected one|correct it]?",
                    "invoice_fix",
                ),
                (
                    "Where can I download [my invoices|past invoices|billing statements] for the {product}?",
                    "invoice_download",
                ),
                ("I [never received|didn't get] the invoice for my {amount} payment on {date}.", "resend_invoice"),
                "Please email a copy of the receipt for my last payment to {email}.",
                "I need a VAT invoice for the {product} for our accounts department.",
                ("The amount on invoice {invoice} doesn't match what I paid ({amount}).", "price_question"),
                ("Can you add our company name and tax ID to the invoices for the {product}?", "invoice_fix"),
                "Hi, our bookkeeper is asking for all receipts from this year for the {product}.",
                "invoice for order {order} please",
            ],
            "gold": [
                "Our finance team requires a VAT receipt for {invoice}, please [email|send] it to {email}.",
                (
                    "Invoice {invoice} lists {amount} but the price on your website was lower. Please explain the difference.",
                    "price_question",
                ),
            ],
        },
        "plan_change": {
            "train": [
                "I want to [downgrade|switch] from the {product} to the {product2}. [Will I be charged a fee?|How does the billing work?|Will I get a prorated credit?]",
                "How much will I be [charged|billed] if I upgrade to the {product} [mid-month|today]?",
                ("Please switch my billing from monthly to annual [for the {product}|].", "annual"),
                ("Is there a discount for [nonprofits|students|teams over 10 people] on the {product}?", "discount"),
                "What does the {product} cost per month compared to the {product2}?",
                ("Can I pay yearly for the {product} instead of monthly?", "annual"),
                "Please cancel my {product} subscription at the end of this billing period.",
                "How much is the upgrade from the {product2} to the {product}?",
                "pricing question: is the {product} cheaper if we pay for a whole year?",
                "Our team grew to 12 people. What would the {product} cost us now?",
            ],
            "gold": [
                "If I move my subscription up to the {product} right now, what exactly happens to what I already paid this cycle?",
                (
                    "Thinking of going yearly instead of paying every month for the {product}. What would the total cost be?",
                    "annual",
                ),
            ],
        },
        "payment_failed": {
            "train": [
                "My payment [keeps failing|was declined] [when I try to renew|at checkout] [with my {card}|]. [The card works everywhere else.|My bank says everything is fine.]",
                ("I [need to|want to] update the card on file, my old {card} expired.", "update_card"),
                "I got an email saying my payment of {amount} failed. [How do I fix it?|What should I do?]",
                "Your checkout keeps rejecting my {card}, what's going on?",
                ("How can I switch my payment method to PayPal for the {product}?", "update_card"),
                "The charge of {amount} bounced and now my subscription is on hold. How do I pay?",
                "card declined again. {card}. why?",
                "We tried to pay the {amount} renewal by bank transfer but it bounced back. How else can we pay?",
            ],
            "gold": [
                "Checkout rejects my {card} every time for the {amount} order even though the funds are there.",
                ("Please tell me how to change the payment method for my {product}, we switched banks.", "update_card"),
            ],
        },
    },
    "account": {
        "password_reset": {
            "train": [
                "I forgot my password and the reset email [never arrives|doesn't come|isn't arriving]. [I checked spam too.|Nothing in spam either.]",
                "The password reset link says it has expired [every time|even when I click it right away].",
                "How do I reset my password? I [can't remember it|lost it] and I'm [stuck on the login page|locked out].",
                "[Resetting|Changing] my password [doesn't work|fails], it [says|shows] 'invalid token' [when I submit the new one|].",
                "Password reset isn't working for me, no email comes through to {email}.",
                "I set a new password with the reset link but I still can't sign in with it.",
                "Need help resetting my password, I [don't remember it|forgot it again].",
                "password reset not working",
                "I haven't used my account in a year and can't remember the password. The reset mail goes to an address I no longer have.",
            ],
            "gold": [
                "I've requested a new password three times but no email shows up at {email}.",
                "Set a new password through the link, but the sign-in page won't accept it.",
            ],
        },
        "locked_out": {
            "train": [
                "My account [is locked|has been locked|got locked] after too many login attempts. [Please unlock it.|Can you unlock it?]",
                "I can't log in to my account, it says ['account suspended'|'account disabled'] [with no explanation|].",
                "I [can't|cannot] sign in [on my {device}|anymore], it keeps saying my [username|email] is not recognized.",
                "Please unlock the account for {email}, I've been locked out {duration}.",
                "I keep getting sent back to the login page after I enter my email and password.",
                "My login doesn't work anymore, it says wrong password but I'm sure it's right.",
                "Locked out of my account {duration}, please let me sign in again.",
                "can't get into my account since {date}",
                "My colleague set up our team account and now I can't sign in. It says my access was revoked.",
            ],
            "gold": [
                "The login screen just says 'too many attempts, try later' and it's been {duration}. Let me back in please.",
                "Every time I enter my credentials I get bounced back to the sign-in page.",
                "It says my account is deactivated when I try to get in. Can you reactivate it?",
            ],
        },
        "two_factor": {
            "train": [
                "I [lost|got a new] phone and can't get my two-factor [codes|authentication codes] anymore. How do I [log in|get into my account]?",
                "The 2FA code [from the authenticator app|sent by SMS] is always rejected when I log in.",
                ("I [want|need] to turn off two-factor authentication on my account.", "disable_2fa"),
                "I'm not getting the verification code by SMS on my new phone number.",
                "How do I reset two-factor authentication? My authenticator app was on my old {device}.",
                "The login verification step keeps failing, the code is never accepted.",
                "2FA codes not working, can't log in",
                "I switched phones over the weekend and the security code step now blocks me from signing in.",
            ],
            "gold": [
                "Verification codes never reach my new number, so I'm stuck at the second login step.",
                "My authenticator was on my old {device}, which I wiped. I need my 2FA reset.",
            ],
        },
        "profile_change": {
            "train": [
                "How do I change the email address on my account [to {email}|]?",
                "I [want|would like] to [change|update] my username on my account.",
                ("Please merge my two accounts, I accidentally signed up with {email} as well.", "merge"),
                "I need to update the name on my account profile.",
                "Please change my login email, I don't use my old address anymore.",
                "How can I change my display name and profile picture?",
                "change account email to {email} please",
                "My company changed its domain, so every login email on our team needs to be updated. Where do I do that?",
            ],
            "gold": [
                "I need my login email switched over to {email} since I left my old job.",
                "Can the name on my profile be updated? I got married and use a new surname now.",
            ],
        },
        "security": {
            "train": [
                "I think my account was [hacked|compromised], I [see|got an alert about] a login from [a device I don't know|another country] on {date}.",
                ("Please [delete|close] my account and [all my data|my profile] [permanently|].", "delete"),
                "Someone changed my password [without my permission|and it wasn't me]. [Help!|Please secure my account.]",
                ("Please remove my account and erase all data you hold about me.", "delete"),
                "I got an alert about a new sign-in from a {device} that isn't mine. Is my account safe?",
                ("I want my account closed and my personal data deleted under GDPR.", "delete"),
                "Suspicious activity on my account: someone logged in from {city}.",
                ("close my account", "delete"),
                "Someone in {city} signed into my profile last night, and it wasn't me. Please make sure nobody else can get in.",
            ],
            "gold": [
                "There's a sign-in alert from a {device} I've never owned. Lock my account down please.",
                ("I'd like my profile removed entirely, please erase everything tied to {email}.", "delete"),
            ],
        },
    },
    "technical": {
        "crash": {
            "train": [
                "{app} crashes [every time|as soon as] I open [the settings page|the {feature} screen|it] on my {device}.",
                "Since the [latest|last] update {app} [freezes|closes itself] [after a few seconds|on startup].",
                "The app [keeps crashing|crashes] when I try to use {feature}. [I'm on a {device}.|Device: {device}.]",
                "{app} shows a white screen and then shuts down on my {device}.",
                "Every time I start {app} it hangs and then quits.",
                "The app force closes when I tap {feature}, reinstalling didn't help.",
                "The {product} dashboard crashes whenever I open {feature}.",
                "app keeps crashing on {device}",
                "I open the app, it shows the logo for a second and then disappears. Happens every time on my {device}.",
            ],
            "gold": [
                "{app} just quits on my {device} the moment I tap {feature}. Reinstalled twice, same thing.",
                "Startup hangs on a white screen and then the whole thing shuts down ({device}).",
                "After opening a big project, {app} goes unresponsive and I have to force quit.",
            ],
        },
        "error_code": {
            "train": [
                "I get {error} when I try to [upload a file|save my changes|open {feature}].",
                "[Getting|Seeing] {error} in {app} {duration}. [What does it mean?|How do I fix it?]",
                "{feature} [fails|stops working] with {error} [on my {device}|].",
                "An error message pops up saying {error} whenever I save.",
                "Why does {app} show {error}? It started {duration}.",
                "{error} on save",
                "When our team uploads files bigger than 10 MB the page shows {error} and nothing gets saved.",
            ],
            "gold": [
                "Every attempt to use {feature} ends with the message {error}. Tried another browser too.",
                "what is {error}?? it pops up whenever I hit save in {app}",
            ],
        },
        "performance": {
            "train": [
                "{app} is [extremely|really|very] slow {duration}, pages take [forever|over a minute] to load.",
                "The {feature} page [never finishes loading|times out] on my {device}.",
                (
                    "Sync between my {device} and {app} [stopped working|is broken] {duration}, [my changes don't show up|the data is out of date].",
                    "sync",
                ),
                ("My edits on the {device} are not syncing to {app}.", "sync"),
                "{feature} takes ages to open, the spinner never stops.",
                "Everything in {app} is lagging badly on my {device}.",
                "so slow today, can't get anything done in {app}",
                ("Data I enter on the laptop takes hours to show up on my {device}, if it shows up at all.", "sync"),
            ],
            "gold": [
                "Loading spinner forever on {feature}. My connection is fine, other sites load instantly.",
                ("Changes I make on the {device} aren't appearing in {app} anymore.", "sync"),
            ],
        },
        "feature_broken": {
            "train": [
                "[File upload|Export to CSV|{feature}] doesn't work, [nothing happens when I click the button|the button is greyed out].",
                (
                    "I don't [get|receive] [push notifications|email notifications] anymore [on my {device}|] even though they are enabled.",
                    "notifications",
                ),
                "[Search|{feature}] returns [no results|wrong results] [since {date}|{duration}].",
                ("I can't install the update on my {device}, it stops at [45%|90%|the download step].", "install"),
                (
                    "Notifications stopped working on my {device}, I don't get any alerts for new messages.",
                    "notifications",
                ),
                "The button for {feature} does nothing when I press it.",
                "{feature} is broken after the update, it only shows a blank page.",
                "{feature} not working since the update",
                "The print button in {feature} produces an empty page, and the preview is blank too.",
            ],
            "gold": [
                "Nothing happens when I press the button for {feature}, and the console shows {error}.",
                ("Alerts have gone silent on my {device}: no pings at all for new messages.", "notifications"),
            ],
        },
    },
    "other": {
        "delivery": {
            "train": [
                "[Where is|What's the status of] my order {order}? It [was supposed to arrive|should have arrived] on {date}.",
                ("Can I change the delivery address for order {order} to {city}?", "delivery_change"),
                "The tracking for order {order} hasn't updated {duration}.",
                "My parcel with order {order} is still in transit. When will it be delivered?",
                ("Can the courier deliver order {order} to my office in {city} instead?", "delivery_change"),
                "Has my package shipped yet? Order {order}.",
                ("Could you hold my package at the depot until I'm back from holiday?", "delivery_change"),
                "The courier says order {order} was delivered but I never got it.",
                "where is my package? order {order}",
                "I ordered the {item} for a birthday on {date}. Will it make it in time?",
            ],
            "gold": [
                "The package for {order} still says 'in transit'. Any idea when it lands in {city}?",
                ("Could the courier leave order {order} with my neighbour? I'm away on {date}.", "delivery_change"),
            ],
        },
        "feedback": {
            "train": [
                ("Just wanted to say [thanks|thank you], {app} [has made my work so much easier|is great]!", "praise"),
                (
                    "[Your support agent|{name2} from your team] was [really helpful|super helpful] [yesterday|on {date}], please pass on my thanks.",
                    "thanks_agent",
                ),
                "I have a suggestion: it would be great if {app} had [dark mode|a calendar view|keyboard shortcuts].",
                ("I love the {product}, it's been great for my team.", "praise"),
                ("Really happy with {app}, great job to everyone!", "praise"),
                "It would be nice if you added [an offline mode|a home screen widget|more themes] to {app}.",
                ("Just a quick thank you for the great service!", "praise"),
                ("Big thanks to your team, the {product} is [awesome|brilliant].", "praise"),
                ("Keep up the good work, {app} keeps getting better!", "praise"),
                ("My colleagues and I are big fans of {app}.", "praise"),
                "Idea for the next version: [let us|allow us to] [sort|group] items by colour in {app}.",
                "Feature request: [a shared team calendar|project templates|bulk editing] in {app} would be amazing.",
                "Would love to see [custom tags|a weekly summary|a kanban board] in {app}.",
                ("love it!!", "praise"),
                "Small wish: could {app} remember the last project I had open? Would save me a few clicks every day.",
            ],
            "gold": [
                ("Huge fan of the {product}, my whole team loves it. Keep it up!", "praise"),
                "Feature idea: let us pin favourite projects to the top of {app}.",
                ("You folks nailed the new design, it looks fantastic.", "praise"),
            ],
        },
        "general_question": {
            "train": [
                ("What are your [support hours|opening hours|business hours] [on weekends|during holidays|]?", "hours"),
                ("Do you have [an office|a store|a showroom] in {city}?", "location"),
                ("Is {app} available in [Spanish|German|Japanese]?", "language"),
                ("Does the {item} come in [other colours|a bigger size]?", "product_info"),
                ("What's the best way to contact a real person at your company?", "contact"),
                ("Do you offer support by phone?", "contact"),
                ("Do you have any job openings in {city}?", "jobs"),
                ("Are you planning to open a store in {city}?", "location"),
                ("Can I speak to a person on the phone about your services?", "contact"),
                ("Do you have a support hotline?", "contact"),
                ("do you ship to {city}?", "shipping"),
                ("Is there a user manual for {app} somewhere?", "general_question"),
            ],
            "gold": [
                ("Is there a phone number I can call to speak to a person, or is it email only?", "contact"),
                ("Are you hiring? I'd love to apply for a role in {city}.", "jobs"),
                ("Do you run training sessions or workshops for new customers?", "general_question"),
            ],
        },
        "partnership": {
            "train": [
                "I'm a journalist writing about [productivity tools|small businesses] and would like to interview someone from your team.",
                "We'd like to discuss a [partnership|reseller agreement] with your company. Who should I contact?",
                "We host a webinar series and would love a speaker from your company.",
                "Do you sponsor [events|conferences|hackathons]?",
                "Would you sponsor our [student club|charity run|local hackathon] in {city}?",
                "Press inquiry: we're writing a story about remote work tools and would like a comment.",
                "Our agency works with many small shops in {city}. Is there an affiliate program we could join?",
            ],
            "gold": [
                ("Our podcast would love to have your founder as a guest next month.", "partnership"),
                "I run a user group in {city} and wondered if you sponsor community meetups.",
            ],
        },
    },
}

# The mixed templates and the framing material live in workers.demo.framing.
# The third split, ``field``: production wordings the teacher never trains on (workers.demo.field).
from workers.demo.field import FIELD_ASIDES, FIELD_MIXED, FIELD_TEMPLATES  # noqa: E402
from workers.demo.framing import (  # noqa: E402, F401  (re-exported: the corpus reads them here)
    ASIDES,
    MIXED,
    NAME_INTROS,
    OPENERS,
    PLAIN_CLOSERS,
    SIGN_OFFS,
    SLOTS,
)

for _label, _intents in FIELD_TEMPLATES.items():
    for _intent, _templates in _intents.items():
        TEMPLATES[_label][_intent]["field"] = _templates
for _label, _templates in FIELD_MIXED.items():
    MIXED[_label]["field"] = _templates
for _label, _asides in FIELD_ASIDES.items():
    ASIDES[_label]["field"] = _asides
