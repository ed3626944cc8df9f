"""Prometheus metrics of the moderation pipeline and review (``vigil_moderation_*``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CHECKS_TOTAL = Counter(
    "vigil_moderation_checks_total",
    "Automatic checks recorded, by subject type and outcome (publish, hold, remove...).",
    ["subject_type", "outcome"],
)
CHECK_SECONDS = Histogram(
    "vigil_moderation_check_seconds",
    "Wall time of one automatic check (language, classifiers, hash banks, policy, record).",
    ["subject_type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
RULE_HITS_TOTAL = Counter(
    "vigil_moderation_rule_hits_total",
    "Policy rules whose condition held, by rule and mode (live rules act, shadow rules only "
    "record).",
    ["rule", "mode"],
)
DECISIONS_TOTAL = Counter(
    "vigil_moderation_decisions_total",
    "Decisions appended to the chain, by action and by who made them (system, moderator).",
    ["action", "actor"],
)
RECHECKS_TOTAL = Counter(
    "vigil_moderation_rechecks_total",
    "Subjects re-checked because their models or policy changed (or were never checked).",
    ["subject_type"],
)
DECISION_EVENTS_TOTAL = Counter(
    "vigil_moderation_decision_events_total",
    "moderation.decided sends, by result: sent (first try), resent (by the worker's outbox "
    "relay) or failed (left in the outbox for the next try).",
    ["result"],
)
DECISION_EVENTS_UNSENT = Gauge(
    "vigil_moderation_decision_events_unsent",
    "Committed decisions whose moderation.decided event is still in the outbox, as the worker's "
    "relay last counted them.",
)
