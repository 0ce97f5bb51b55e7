"""The demo corpus's replies: per category and reply pool, the bodies a good answer
is made of, and the greetings and closers around them (see ``workers.demo.corpus``).

Replies are shared by both splits (they are what a good answer looks like, not what is
being tested). A body may use ``{slot}`` only for slots its ticket used
(``workers.demo.templates.SLOTS``).
"""

from __future__ import annotations

# category -> reply pool -> reply bodies (one or two sentences). A pool is named
# after an intent or a template's reply key. A reply may only use slots its
# ticket used, so every pool keeps at least one slot-free body.
REPLIES: dict[str, dict[str, list[str]]] = {
    "billing": {
        "double_charge": [
            "I'm sorry about the duplicate charge of {amount}. I've refunded the second payment and it should reach your {card} within 5-7 business days.",
            "Thanks for flagging this. I can confirm the {product} payment was taken twice, and I've issued a refund for the duplicate.",
            "Apologies for the double charge on order {order}. The extra payment has been reversed and will be back on your statement in a few days.",
            "Sorry for the trouble with the duplicate payment. I've reversed the extra charge, and you'll receive a confirmation email shortly.",
        ],
        "refund": [
            "I've processed a refund of {amount} for your {product}. It usually takes 5-7 business days to appear.",
            "Thanks for your patience. Your refund has been approved and should arrive within a week.",
            "I'm sorry about this charge. I've refunded it in full, and you'll get a confirmation email shortly.",
        ],
        "return_refund": [
            "I've started the refund for your returned {item}, and you'll get a confirmation email once it is sent.",
            "Your return has been received and the refund is on its way.",
        ],
        "renewal_refund": [
            "I'm sorry for the unexpected charge. I've cancelled the renewal and refunded it in full.",
            "I've refunded the {amount} renewal and turned off auto-renew so it won't happen again.",
        ],
        "refund_status": [
            "Sorry for the wait on order {order}. I've checked with our payments team and the refund is on its way to your {card}.",
            "Your refund was sent on our side, and banks can take up to 10 business days to show it.",
        ],
        "downtime_refund": [
            "I'm sorry you couldn't use the {product}. I've credited the days you lost to your account.",
            "Sorry for the lost time. I've refunded the affected days to your original payment method.",
        ],
        "wrong_plan": [
            "Sorry for the mix-up. I've corrected the charge to match your {product} and refunded the difference.",
            "Sorry for the mix-up. Your charge now matches the plan on your account, and the difference is refunded.",
        ],
        "invoice": [
            "I've emailed you the invoice for order {order}. You can also download all invoices under Settings > Billing.",
            "I've sent the receipt to your email address just now.",
            "Your invoice is on its way to {email}, and it includes the VAT details.",
        ],
        "invoice_fix": [
            "I've corrected invoice {invoice} and sent the new version to your email address.",
            "Sorry about the wrong details. A corrected invoice is on its way to your inbox.",
        ],
        "invoice_download": [
            "You can download every invoice for your {product} under Settings > Billing > Invoices.",
            "All your invoices are under Settings > Billing, where each one has a download button.",
        ],
        "resend_invoice": [
            "Sorry it didn't reach you. I've resent the invoice for your {amount} payment just now.",
            "I've resent the invoice to the email on your account. Let me know if it doesn't arrive within the hour.",
        ],
        "price_question": [
            "Sorry for the confusion. The amount on {invoice} includes tax, which the website only adds at checkout.",
            "The invoice includes sales tax, which explains the difference. I've sent you a breakdown by email.",
        ],
        "plan_change": [
            "You can switch to the {product2} at any time under Settings > Plan, and any unused time is credited to your next bill.",
            "Upgrading to the {product} today is prorated, so you only pay the difference for the rest of this cycle.",
            "Plan changes are prorated, so you'll only pay the difference for the current billing period.",
        ],
        "annual": [
            "I've switched your billing to annual, which saves you two months per year. The change applies at your next renewal.",
            "Annual billing saves you two months per year, and I've set it to start at your next renewal.",
        ],
        "discount": [
            "We offer 20% off for nonprofits, students and larger teams. Reply with a little detail about your organisation and I'll apply it to your {product}.",
            "Yes, we have discounts for nonprofits, students and teams, and I've sent the details to your email.",
        ],
        "payment_failed": [
            "Sorry your payment didn't go through. You can update your card under Settings > Billing and we'll retry the charge automatically.",
            "Banks sometimes block payments in a fraud check, so please try your {card} again or add another payment method.",
            "I've checked and the {amount} payment was declined by the card issuer. Adding a new payment method under Settings > Billing will fix it.",
        ],
        "update_card": [
            "You can replace the card under Settings > Billing > Payment methods, and the next charge will use the new one.",
            "I've sent you a secure link to update your payment method for the {product}.",
        ],
    },
    "account": {
        "password_reset": [
            "I'm sorry you're having trouble signing in. I've sent a fresh reset link to your email, and it is valid for 24 hours.",
            "Reset emails can take a few minutes and sometimes land in spam. I've triggered a new one to {email} for you.",
            "I've cleared the old reset tokens on your account, so the next link you request will work.",
        ],
        "locked_out": [
            "I've unlocked your account, so you can sign in again now. For security, please choose a new password after logging in.",
            "Your account was locked after several failed attempts. I've lifted the lock, and you should be able to log in right away.",
            "I've checked your account and restored access. If the sign-in page still rejects you, try clearing your browser cookies.",
        ],
        "two_factor": [
            "I can help you regain access. I've sent a verification step to your email, and once you confirm it two-factor authentication will be reset.",
            "After verifying your identity I've reset two-factor authentication on your account. You can set it up again on your {device}.",
        ],
        "disable_2fa": [
            "You can turn two-factor authentication off under Settings > Security once you're signed in.",
            "I've turned off two-factor authentication for your account, though we recommend setting it up again soon.",
        ],
        "profile_change": [
            "I've updated the email on your account to {email}. You can change it yourself any time under Settings > Profile.",
            "I've updated your profile details, and the change will show the next time you sign in.",
            "Your account details are updated. Let me know if anything still looks wrong on your profile.",
        ],
        "merge": [
            "I've merged your two accounts, so everything is now under one login.",
        ],
        "security": [
            "I've locked your account and signed out all sessions to keep it safe. Please reset your password using the link I've just sent.",
            "I'm sorry to hear that. I've secured your account and removed the unknown device, and I recommend turning on two-factor authentication.",
        ],
        "delete": [
            "Your account deletion request is confirmed. All your data will be permanently removed within 30 days.",
            "I've scheduled your account and its data for permanent deletion, which completes within 30 days.",
        ],
    },
    "technical": {
        "crash": [
            "Sorry about the crashes on your {device}. Please update to the latest version, and if it still happens send us the crash log from Settings > Help.",
            "Thanks for reporting this. Our engineers are aware of a crash in the latest update and a fix is rolling out this week.",
            "I'm sorry the app keeps closing. Clearing the app cache and reinstalling usually fixes it, so let me know if it doesn't.",
        ],
        "error_code": [
            "{error} usually means your session expired. Please sign out and back in, and the error should go away.",
            "Thanks for the details about {error}. Our team has found the cause and a fix will be deployed shortly.",
            "Sorry about that error. Could you send a screenshot and the time it happened so our engineers can trace it?",
        ],
        "performance": [
            "Sorry about the slow loading. We had a performance issue that is now fixed, so please refresh and try again.",
            "Thanks for letting us know. Please try clearing your cache, and if it's still slow our engineers will look into your account.",
        ],
        "sync": [
            "I've reset the sync for your account, and your {device} should be up to date within a few minutes.",
            "Sorry about the sync trouble. Signing out and back in forces a full resync, so please give that a try.",
        ],
        "feature_broken": [
            "Thanks for reporting this. It's a known bug with {feature}, and a fix is coming in the next update.",
            "I've passed this on to our engineers with your details. We'll email you as soon as it's fixed.",
        ],
        "notifications": [
            "Sorry about that. Please check that notifications are allowed in your {device} settings, and reinstall the app if they still don't arrive.",
            "I've reset the notification settings on your account, so alerts should start arriving again.",
        ],
        "install": [
            "Sorry the update won't install. Please free up some storage on your {device} and try again.",
            "The update server had a hiccup earlier today. Please try the installation again, and it should complete now.",
        ],
    },
    "other": {
        "delivery": [
            "Your order {order} is on its way and should arrive within 2-3 business days. You'll get a tracking update by email.",
            "Sorry for the delay with your parcel. I've contacted the courier and will update you as soon as I hear back.",
        ],
        "delivery_change": [
            "I've updated the delivery details for order {order} as you asked.",
            "Done! The courier has the new delivery instructions for your order.",
        ],
        "praise": [
            "Thank you so much for the kind words! I'll share them with the whole team.",
            "That's lovely to hear. Thanks for taking the time to write to us!",
        ],
        "thanks_agent": [
            "That's lovely to hear, and I'll make sure {name2} gets your message.",
            "Thank you! I'll pass your kind words on to the team.",
        ],
        "feedback": [
            "Thanks for the suggestion! I've passed it on to our product team.",
            "That's a great idea, and I've added it to our feature request list.",
        ],
        "suggestion": [
            "Thanks for the suggestion! I've passed it on to our product team.",
            "That's a great idea, and I've added it to our feature request list.",
        ],
        "general_question": [
            "Thanks for asking! You'll find the details in our Help Center, and I'm happy to answer any follow-up questions.",
        ],
        "hours": [
            "Our support team is available Monday to Friday, 9am to 6pm, and we answer emails on weekends too.",
            "We're open weekdays from 9am to 6pm, with shorter hours on weekends and holidays.",
        ],
        "location": [
            "We don't have an office in {city} yet, but our online support is always available.",
            "We're a remote-first company without local offices, but we're always happy to help online.",
        ],
        "language": [
            "Yes, the app is available in several languages, which you can pick under Settings > Language.",
        ],
        "product_info": [
            "The {item} comes in three colours and two sizes, all listed on the product page.",
            "You'll find every available colour and size on the product page.",
        ],
        "contact": [
            "You can reach us by phone on weekdays from 9am to 6pm, and the number is on our Contact page.",
        ],
        "jobs": [
            "Thanks for your interest in joining us! All open roles are listed on our Careers page.",
        ],
        "shipping": [
            "Yes, we ship to {city}, and delivery usually takes 3-5 business days.",
            "Yes, we ship there, and delivery usually takes 3-5 business days.",
        ],
        "partnership": [
            "Thanks for reaching out! I've forwarded your message to our partnerships team, who will contact you within a few days.",
            "Thank you for your interest. Our communications team will get back to you by email this week.",
        ],
    },
}

GREETINGS_NAMED = ["Hi {name},", "Hello {name},", "Dear {name},", "Thanks for writing, {name}."]
GREETINGS_ANON = ["Hi there,", "Hello,", "Thanks for reaching out."]
REPLY_CLOSERS = [
    "Let me know if there's anything else I can do.",
    "Have a great day!",
    "We're here if you need anything else.",
]
