"""The demo data set's steps, in order: accounts in many regions, then the follow graph.

Later rooms append their steps (videos, comments, engagement events) to DEMO_STEPS.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from core.auth import Role, User
from core.demo import DemoContext, DemoStep
from feed import seed_follows
from localization import REGIONS

# Given names by language, for handles that look like the people of each region.
_NAMES: dict[str, tuple[str, ...]] = {
    "en": ("alex", "sam", "jordan", "taylor", "chris", "jamie", "morgan", "riley", "casey"),
    "es": ("lucia", "mateo", "sofia", "diego", "valentina", "javier", "camila", "pablo"),
    "pt": ("joao", "ana", "pedro", "beatriz", "lucas", "mariana", "gabriel", "larissa"),
    "de": ("lukas", "anna", "felix", "lena", "jonas", "mia", "paul", "hannah"),
    "fr": ("louis", "chloe", "hugo", "lea", "jules", "manon", "arthur", "camille"),
    "hi": ("aarav", "diya", "vivaan", "ananya", "arjun", "isha", "rohan", "priya"),
    "id": ("budi", "siti", "agus", "dewi", "rizky", "putri", "eko", "ayu"),
    "ja": ("haruto", "yui", "sota", "hina", "ren", "aoi", "yuto", "sakura"),
    "tr": ("emre", "zeynep", "mehmet", "elif", "can", "ayse", "burak", "defne"),
    "ar": ("omar", "layla", "youssef", "nour", "karim", "salma", "ahmed", "mariam"),
}

#: Share of accounts per country (roughly a global app's audience).
_COUNTRY_WEIGHTS: dict[str, float] = {
    "US": 20,
    "BR": 12,
    "IN": 12,
    "ID": 10,
    "MX": 8,
    "DE": 6,
    "FR": 6,
    "GB": 6,
    "ES": 5,
    "JP": 5,
    "TR": 5,
    "EG": 5,
}

CREATOR_SHARE = 0.15


def _count_accounts(ctx: DemoContext) -> int:
    return ctx.users


def _seed_accounts(ctx: DemoContext) -> str:
    countries = list(_COUNTRY_WEIGHTS)
    weights = [_COUNTRY_WEIGHTS[c] for c in countries]
    rows = []
    creators: list[str] = []
    viewers: list[str] = []
    for index in range(ctx.users):
        country = ctx.rng.choices(countries, weights=weights)[0]
        region = REGIONS[country]
        language = ctx.rng.choice(region.languages)
        given = ctx.rng.choice(_NAMES.get(language, _NAMES["en"]))
        role = Role.CREATOR if ctx.rng.random() < CREATOR_SHARE else Role.VIEWER
        user_id = ctx.new_id()
        rows.append(
            {
                "id": user_id,
                "name": f"{given}.{country.lower()}{index:05d}",
                "display_name": given.title(),
                "role": role.value,
                "password_hash": None,  # demo accounts cannot sign in
                "country": country,
                "language": language,
                "birth_year": ctx.anchor.year - int(ctx.rng.triangular(13, 60, 22)),
                "is_active": True,
                "created_at": ctx.anchor - dt.timedelta(days=ctx.rng.uniform(1, 365)),
            }
        )
        (creators if role is Role.CREATOR else viewers).append(user_id)
        if len(rows) >= 1000:
            ctx.session.execute(insert(User), rows)
            ctx.advance(len(rows))
            rows = []
    if rows:
        ctx.session.execute(insert(User), rows)
        ctx.advance(len(rows))
    ctx.made["creator_ids"] = creators
    ctx.made["viewer_ids"] = viewers
    return f"{ctx.users} accounts ({len(creators)} creators) in {len(countries)} countries"


def _count_follows(ctx: DemoContext) -> int:
    return 1


def _seed_follows(ctx: DemoContext) -> str:
    creators: list[str] = ctx.made["creator_ids"]
    everyone = creators + ctx.made["viewer_ids"]
    # Creators ranked in random order; popularity follows that rank (Zipf).
    ranked = list(creators)
    ctx.rng.shuffle(ranked)
    edges = seed_follows(ctx.session, rng=ctx.rng, followers=everyone, followees=ranked)
    ctx.advance(1)
    return f"{edges} follows (power-law followers per creator)"


DEMO_STEPS: list[DemoStep] = [
    DemoStep("accounts", "accounts in 12 countries", _count_accounts, _seed_accounts),
    DemoStep("follows", "follow graph", _count_follows, _seed_follows),
]
