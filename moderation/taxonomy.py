"""The reason taxonomy: why something was reported, held, restricted or removed.

One list for the whole moderation room. User reports (``moderation.reports``) take their
``reason`` from it, policy rules their ``reason_code`` (``moderation.policy``), and decisions
their ``reason_code``, so a report, the rule that acted on the same subject and the moderator's
decision speak the same words and the trust-and-safety analytics can line them up.

The codes follow the categories short-video platforms publish in their community guidelines and
transparency reports. Codes are stable identifiers (stored in rows and events); labels are for
people and may be reworded.
"""

from __future__ import annotations

from dataclasses import dataclass

#: code -> English label, in the order a reporting menu shows them.
REPORT_REASONS: dict[str, str] = {
    "hate": "Hate speech or symbols",
    "harassment": "Harassment or bullying",
    "violence": "Violence or threats",
    "violent_extremism": "Violent extremism or terrorism",
    "self_harm": "Suicide or self-harm",
    "dangerous_challenge": "Dangerous acts or challenges",
    "nudity": "Nudity or sexual content",
    "minor_safety": "Minor safety",
    "graphic_content": "Graphic or shocking content",
    "misinformation": "Harmful misinformation",
    "spam": "Spam or fake engagement",
    "fraud": "Fraud or scams",
    "regulated_goods": "Drugs, weapons or other regulated goods",
    "ip": "Intellectual property infringement",
    "privacy": "Privacy violation or personal information",
    "impersonation": "Impersonation",
    "illegal_activity": "Other illegal activity",
    "other": "Something else",
}

#: The codes alone, for membership tests.
REASON_CODES: frozenset[str] = frozenset(REPORT_REASONS)


def is_reason_code(code: str) -> bool:
    """Whether ``code`` is one of the taxonomy's codes."""
    return code in REASON_CODES


# --- review routing (cases) -------------------------------------------------------------------
# Where a report or a rule hit with each code goes for human review, how urgent it is and how
# soon someone must look. The deadlines follow what platforms commit to publicly: imminent harm
# to a person (self-harm, minors, terrorism) within the hour, threats and dangerous challenges
# within hours, the rest within a day, low-harm or slow legal claims within three days.
# ``VIGIL_MODERATION__CASE_SLA_HOURS`` overrides a deadline by code or by queue.

#: Case priorities (higher is served first). Distinct reporters raise a case above its base.
PRIORITY_HIGH = 80
PRIORITY_ELEVATED = 65
PRIORITY_NORMAL = 50
PRIORITY_LOW = 30


@dataclass(frozen=True)
class ReasonSpec:
    """One reason code as the review queues see it."""

    code: str
    label: str
    description: str
    queue: str  # the review queue its cases open in
    priority: int  # the case's base priority
    sla_hours: float  # the review deadline, from the case's opening


_ROUTING: dict[str, tuple[str, int, float, str]] = {
    # code: (queue, priority, sla_hours, description)
    "hate": (
        "hate_harassment",
        PRIORITY_ELEVATED,
        12,
        "Attacks on people for a protected attribute (ethnicity, religion, gender, sexual "
        "orientation, disability...), slurs, hateful symbols.",
    ),
    "harassment": (
        "hate_harassment",
        PRIORITY_NORMAL,
        24,
        "Insults, bullying, degrading or sexual remarks aimed at a person, doxxing threats.",
    ),
    "violence": (
        "violence",
        PRIORITY_ELEVATED,
        4,
        "Threats or incitement to violence against people or animals.",
    ),
    "violent_extremism": (
        "extremism",
        PRIORITY_HIGH,
        1,
        "Promotion, support or recruitment for violent extremist or terrorist organisations.",
    ),
    "self_harm": (
        "self_harm",
        PRIORITY_HIGH,
        1,
        "Suicide, self-injury or eating-disorder content that shows, encourages or instructs; "
        "someone may be at risk now.",
    ),
    "dangerous_challenge": (
        "self_harm",
        PRIORITY_ELEVATED,
        4,
        "Stunts and challenges likely to injure the people who copy them.",
    ),
    "nudity": (
        "adult",
        PRIORITY_NORMAL,
        24,
        "Nudity, sexual activity or sexually explicit content.",
    ),
    "minor_safety": (
        "minor_safety",
        PRIORITY_HIGH,
        1,
        "Sexualisation, grooming, abuse or endangerment of minors, or a minor at risk.",
    ),
    "graphic_content": (
        "violence",
        PRIORITY_NORMAL,
        24,
        "Gore, severe injury or death shown for shock rather than news or education.",
    ),
    "misinformation": (
        "integrity",
        PRIORITY_NORMAL,
        24,
        "False claims that can cause real harm: health, elections, emergencies.",
    ),
    "spam": (
        "integrity",
        PRIORITY_LOW,
        72,
        "Repetitive or misleading content, fake engagement, links to scams or malware.",
    ),
    "fraud": (
        "integrity",
        PRIORITY_NORMAL,
        24,
        "Scams, phishing, fake giveaways, pyramid schemes.",
    ),
    "regulated_goods": (
        "legal",
        PRIORITY_NORMAL,
        24,
        "Sale or promotion of drugs, weapons, alcohol, tobacco, gambling or other regulated goods.",
    ),
    "ip": (
        "legal",
        PRIORITY_LOW,
        72,
        "Copyright or trademark infringement (a rights holder's claim).",
    ),
    "privacy": (
        "legal",
        PRIORITY_NORMAL,
        24,
        "Personal information shared without consent: addresses, documents, intimate images.",
    ),
    "impersonation": (
        "integrity",
        PRIORITY_LOW,
        72,
        "Pretending to be another person, brand or organisation.",
    ),
    "illegal_activity": (
        "legal",
        PRIORITY_ELEVATED,
        12,
        "Other criminal activity: trafficking, hacking, counterfeit goods.",
    ),
    "other": (
        "general",
        PRIORITY_LOW,
        72,
        "Anything the other reasons do not cover; the reporter's details say what.",
    ),
}

#: code -> its routing, for every code of ``REPORT_REASONS`` (checked below, at import).
REASONS: dict[str, ReasonSpec] = {
    code: ReasonSpec(code, label, _ROUTING[code][3], *_ROUTING[code][:3])
    for code, label in REPORT_REASONS.items()
}
if set(_ROUTING) != REASON_CODES:  # one list of codes: routing for exactly those
    raise RuntimeError(f"review routing and REPORT_REASONS differ: {set(_ROUTING) ^ REASON_CODES}")

#: The queues reasons route to, and the two every deployment has besides.
APPEALS_QUEUE = "appeals"
ESCALATIONS_QUEUE = "escalations"
QUEUES: tuple[str, ...] = (
    *dict.fromkeys(spec.queue for spec in REASONS.values()),
    ESCALATIONS_QUEUE,
    APPEALS_QUEUE,
)
