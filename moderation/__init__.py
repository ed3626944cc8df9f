"""Classifiers, the policy engine (rules, regions, shadow mode, backtest), cases, decisions,
audit and appeals."""

from __future__ import annotations

#: Topics this room publishes.
TOPICS = ("comment.created", "moderation.decided")

__all__ = ["TOPICS"]
