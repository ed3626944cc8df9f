"""Classifiers, the policy engine (rules, regions, shadow mode, backtest), cases, decisions,
audit and appeals."""

from __future__ import annotations

from .models import EVERYWHERE, Visibility
from .visibility import set_visibility, visibility_of

#: Topics this room publishes.
TOPICS = ("comment.created", "moderation.decided")

__all__ = ["EVERYWHERE", "TOPICS", "Visibility", "set_visibility", "visibility_of"]
