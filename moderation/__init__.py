"""Trust and safety: classifiers, hash banks, the policy engine (rules per country, live and
shadow modes, backtest), the automatic checks of comments and videos, reports, cases and queues,
decisions in a tamper-evident chain, strikes and appeals, and the visibility table that playback,
search and the feed read.

Other rooms and the edges use what this file exports; the submodules are exported whole where
their surface is wide (``cases``, ``decisions``, ``hashbanks``, ``policy``...).
"""

from __future__ import annotations

from . import (
    appeals,
    backtest,
    cases,
    classifiers,
    decisions,
    hashbanks,
    outbox,
    perspective,
    policy,
    reports,
    strikes,
    taxonomy,
)
from .appeals import file_appeal, resolve_appeal
from .backtest import BacktestReport
from .backtest import backtest as run_backtest
from .cases import (
    NO_VIOLATION,
    claim_case,
    decide_case,
    escalate_case,
    list_queue,
    open_case,
    queue_stats,
)
from .classifiers import TextClassifier, TextScores, open_text_classifier
from .consumers import MODERATION_GROUP, moderation_consumers
from .decisions import (
    DECIDED_TOPIC,
    SYSTEM_ACTOR,
    ChainReport,
    DecisionOutcome,
    apply_decision,
    decision_event,
    record_decision,
    verify_chain,
)
from .models import (
    EVERYWHERE,
    Appeal,
    Case,
    Decision,
    HashBank,
    HashBankEntry,
    ModerationCheck,
    Report,
    RuleHit,
    Strike,
    SubjectVisibility,
    Visibility,
)
from .normalize import NormalizedText, normalize
from .pipeline import (
    Checker,
    CheckOutcome,
    TextAnalysis,
    check_comment,
    check_video,
    recheck,
    shared_checker,
    stale_subjects,
)
from .policy import Evaluation, Policy, PolicyError, RuleResult, Signals, load_policy
from .reports import file_report, report_counts
from .strikes import active_strikes
from .taxonomy import REPORT_REASONS
from .visibility import rebuild_visibility, set_visibility, visibility_of

#: Topics this room publishes.
TOPICS = (DECIDED_TOPIC,)

__all__ = [
    "DECIDED_TOPIC",
    "EVERYWHERE",
    "MODERATION_GROUP",
    "NO_VIOLATION",
    "REPORT_REASONS",
    "SYSTEM_ACTOR",
    "TOPICS",
    "Appeal",
    "BacktestReport",
    "Case",
    "ChainReport",
    "CheckOutcome",
    "Checker",
    "Decision",
    "DecisionOutcome",
    "Evaluation",
    "HashBank",
    "HashBankEntry",
    "ModerationCheck",
    "NormalizedText",
    "Policy",
    "PolicyError",
    "Report",
    "RuleHit",
    "RuleResult",
    "Signals",
    "Strike",
    "SubjectVisibility",
    "TextAnalysis",
    "TextClassifier",
    "TextScores",
    "Visibility",
    "active_strikes",
    "appeals",
    "apply_decision",
    "backtest",
    "cases",
    "check_comment",
    "check_video",
    "claim_case",
    "classifiers",
    "decide_case",
    "decision_event",
    "decisions",
    "escalate_case",
    "file_appeal",
    "file_report",
    "hashbanks",
    "list_queue",
    "load_policy",
    "moderation_consumers",
    "normalize",
    "open_case",
    "open_text_classifier",
    "outbox",
    "perspective",
    "policy",
    "queue_stats",
    "rebuild_visibility",
    "recheck",
    "record_decision",
    "report_counts",
    "reports",
    "resolve_appeal",
    "run_backtest",
    "set_visibility",
    "shared_checker",
    "stale_subjects",
    "strikes",
    "taxonomy",
    "verify_chain",
    "visibility_of",
]
