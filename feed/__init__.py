"""The "For You" feed: candidate sources, filters, ranking, explanations, real-time counters.

Today it owns the follow graph, the first candidate source.
"""

from __future__ import annotations

from .models import Follow
from .service import count_followers, follow, seed_follows

__all__ = ["Follow", "count_followers", "follow", "seed_follows"]
