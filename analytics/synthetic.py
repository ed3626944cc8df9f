"""Synthetic engagement events with the shapes of a real short-video platform.

Used by ``vigil demo`` (weeks of events over the real users and videos), by the collector's
benchmark (client JSON dicts) and by the analytics benchmark (lakes of 1M to 100M events). Every
step is vectorised with numpy and pyarrow: no Python loop runs per event, per view or per session.

The model, from the top down:

- **Actors.** Every user of the :class:`Catalog` (signed in: ``user_id``) plus anonymous devices
  (``device_id`` only; ``anonymous`` is their share of all actors). An actor has a region (the
  user's country), a language (the user's, or one of the region's), a platform and app version
  drawn from the region's mix, an activity level (log-normal), a first day (the account's
  creation day) and a lifetime after which it churns; while alive it comes back on a given day
  with its own probability, higher at weekends. Retention, stickiness and lifecycle charts get
  their decaying, flattening shapes from that.
- **Sessions.** A day's volume follows the active actors' activity and the weekly cycle. A
  session starts at a minute drawn from a diurnal curve in the actor's local time (the region's
  UTC offset; the US spans four), so each region peaks in its own evening. Some sessions start
  with searches (``props {"query": ...}`` in the actor's language).
- **Views.** A session is a run of views one after the other. The video is drawn from a
  Zipf-like popularity times a freshness decay, among the videos that exist that day (new ones
  keep appearing), from the actor's region more often than not. Per view: a skip (a swipe in the
  first seconds: ``skip`` carrying the watched span, sometimes ``not_interested``) or a watch
  whose reached position follows an exponential survival curve over the video's length (steeper
  for long videos, for poor videos and in some regions). The watched part is reported as one or
  two ``watch`` spans (``watched_ms`` = ms of the span, ``position_ms`` = position at its end,
  both consistent with the reached position), ``complete`` when the end is reached, and for some
  completed views a second loop (a re-watch: its spans restart at position 0). Likes, shares,
  comments, follows (``target_user_id`` = the creator) and reports (``props {"reason": ...}``)
  happen with probabilities that grow with the watched fraction and the video's quality, and
  differ by region, giving the mix view_start > watch > like > share > comment > follow > report.
- **Raw client traffic.** ``received_at`` lags ``ts`` (seconds, rarely hours for offline
  batches); a share of events is sent twice (the same ``event_id``); ``bots`` actors send
  view/like/follow bursts at rates no person reaches. The generator emits what clients send, so
  ``is_bot`` is False unless ``mark_bots=True`` marks those actors as the collector's rate rule
  would (``is_bot`` True, ``bot_reason`` "rate"), for lakes written without a collector.

Per view, the ``watched_ms`` of its ``watch`` and ``skip`` events add up to the time watched, and
the largest ``position_ms`` of its first loop is the reached position. ``events`` is exact: the
tables yielded hold that many rows in all, duplicates and bots included.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from core.errors import InvalidInputError
from localization import REGIONS

from .engine import USERS_SCHEMA, VIDEOS_SCHEMA
from .schema import EVENT_SCHEMA, UTC_MICROS

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "REGION_PROFILES",
    "USERS_SCHEMA",
    "VIDEOS_SCHEMA",
    "Catalog",
    "RegionProfile",
    "catalog_frames",
    "catalog_size",
    "client_events",
    "generate_events",
    "synthetic_catalog",
    "to_client_events",
    "write_catalog",
]


MS = 1000  # microseconds per millisecond
DAY_MS = 86_400_000
DAY_US = DAY_MS * MS
DEFAULT_DURATION_MS = 15_000


# -- regions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionProfile:
    """How a region's people use the app; the numbers are rates per view unless said."""

    utc_offsets: tuple[tuple[int, float], ...]  # (minutes east of UTC, share of people)
    share: float  # of synthetic users
    platforms: tuple[float, float, float, float, float]  # ios, android, web, tv, other
    skip_rate: float  # of views, for a video of average quality
    drop_off: float  # survival exp(-drop_off * x) over the fraction x of a 20 s video
    like_rate: float
    share_rate: float
    views_per_session: float
    search_rate: float  # of sessions


REGION_PROFILES: dict[str, RegionProfile] = {
    "US": RegionProfile(
        ((-300, 0.47), (-360, 0.29), (-420, 0.07), (-480, 0.17)),
        0.17,
        (0.56, 0.36, 0.05, 0.02, 0.01),
        0.38,
        1.00,
        0.075,
        0.012,
        14,
        0.18,
    ),
    "GB": RegionProfile(
        ((0, 1.0),), 0.06, (0.50, 0.42, 0.05, 0.02, 0.01), 0.40, 1.05, 0.065, 0.010, 12, 0.16
    ),
    "ES": RegionProfile(
        ((60, 1.0),), 0.05, (0.30, 0.63, 0.05, 0.01, 0.01), 0.40, 1.00, 0.070, 0.012, 13, 0.15
    ),
    "MX": RegionProfile(
        ((-360, 1.0),), 0.07, (0.20, 0.75, 0.04, 0.005, 0.005), 0.36, 0.90, 0.085, 0.016, 16, 0.14
    ),
    "BR": RegionProfile(
        ((-180, 1.0),), 0.11, (0.15, 0.79, 0.04, 0.01, 0.01), 0.35, 0.85, 0.090, 0.018, 17, 0.15
    ),
    "DE": RegionProfile(
        ((60, 1.0),), 0.06, (0.40, 0.51, 0.07, 0.01, 0.01), 0.45, 1.20, 0.055, 0.008, 11, 0.17
    ),
    "FR": RegionProfile(
        ((60, 1.0),), 0.05, (0.40, 0.51, 0.07, 0.01, 0.01), 0.43, 1.10, 0.060, 0.009, 11, 0.16
    ),
    "IN": RegionProfile(
        ((330, 1.0),), 0.14, (0.05, 0.91, 0.03, 0.005, 0.005), 0.42, 1.00, 0.070, 0.020, 15, 0.20
    ),
    "ID": RegionProfile(
        ((420, 1.0),), 0.10, (0.10, 0.86, 0.03, 0.005, 0.005), 0.37, 0.90, 0.080, 0.015, 16, 0.17
    ),
    "JP": RegionProfile(
        ((540, 1.0),), 0.06, (0.66, 0.30, 0.03, 0.005, 0.005), 0.33, 0.70, 0.050, 0.007, 12, 0.22
    ),
    "TR": RegionProfile(
        ((180, 1.0),), 0.06, (0.20, 0.76, 0.03, 0.005, 0.005), 0.38, 0.95, 0.080, 0.014, 15, 0.15
    ),
    "EG": RegionProfile(
        ((120, 1.0),), 0.06, (0.10, 0.86, 0.03, 0.005, 0.005), 0.39, 0.95, 0.075, 0.016, 14, 0.14
    ),
}
#: For countries the table does not know (a real user's country, say).
OTHER_REGION = RegionProfile(
    ((0, 1.0),), 0.0, (0.35, 0.55, 0.07, 0.02, 0.01), 0.40, 1.00, 0.070, 0.012, 13, 0.16
)

#: Share of sessions starting in each local hour (0..23): a night trough, a lunch bump, the
#: evening peak around 21:00.
LOCAL_HOUR_WEIGHTS = np.array(
    [2.4, 1.5, 0.9, 0.6, 0.5, 0.6, 1.0, 1.8, 2.4, 2.6, 2.8, 3.2,
     3.7, 3.5, 3.2, 3.3, 3.6, 4.2, 5.0, 6.0, 6.8, 7.1, 6.2, 4.2]
)  # fmt: skip
#: Activity by UTC weekday, Monday first: higher on Friday and the weekend.
WEEKDAY_FACTORS = np.array([0.94, 0.93, 0.95, 0.97, 1.05, 1.16, 1.13])

PLATFORM_NAMES = ("ios", "android", "web", "tv", "other")
APP_VERSIONS = ("34.2.0", "34.1.1", "33.9.0", "33.5.2", "32.0.4")
APP_VERSION_WEIGHTS = np.array([0.52, 0.24, 0.12, 0.08, 0.04])
REPORT_REASONS = ("spam", "harassment", "hate", "nudity", "violence", "misinformation", "other")
REPORT_REASON_WEIGHTS = np.array([0.34, 0.16, 0.08, 0.12, 0.07, 0.13, 0.10])

SEARCH_QUERIES: dict[str, tuple[str, ...]] = {
    "en": ("funny cats", "easy recipes", "home workout", "dance challenge", "makeup tutorial",
           "football highlights", "travel vlog", "study with me", "diy ideas", "asmr"),
    "es": ("recetas fáciles", "gatos graciosos", "rutina de ejercicio", "reto de baile",
           "maquillaje", "goles", "viajes", "humor"),
    "ca": ("receptes", "humor", "futbol", "viatges"),
    "pt": ("receitas fáceis", "gatos engraçados", "treino em casa", "dança", "maquiagem",
           "futebol", "viagem", "humor"),
    "de": ("einfache rezepte", "lustige katzen", "workout zuhause", "tanz challenge",
           "fußball", "reisen", "schminken"),
    "fr": ("recettes faciles", "chats drôles", "sport à la maison", "danse", "maquillage",
           "football", "voyage"),
    "hi": ("कॉमेडी", "रेसिपी", "क्रिकेट", "डांस", "भजन", "योग"),
    "id": ("resep mudah", "kucing lucu", "olahraga", "joget", "tutorial makeup", "sepak bola"),
    "ja": ("猫", "料理", "ダンス", "メイク", "旅行", "筋トレ", "アニメ"),
    "tr": ("kolay tarifler", "komik kediler", "dans", "makyaj", "futbol", "seyahat"),
    "ar": ("وصفات سهلة", "قطط مضحكة", "رياضة", "كرة القدم", "مكياج", "سفر"),
}  # fmt: skip
HASHTAGS = (
    "fyp", "foryou", "viral", "funny", "comedy", "dance", "food", "recipe", "travel", "pets",
    "cats", "dogs", "fitness", "gym", "music", "fashion", "beauty", "makeup", "gaming",
    "football", "diy", "art", "asmr", "learn", "motivation", "cooking", "nature", "cars",
    "tech", "books", "anime", "skincare", "vlog", "family", "prank", "tutorial", "lifehack",
)  # fmt: skip
SOUND_WORDS = (
    ("Midnight", "Summer", "Golden", "Electric", "Lazy", "Neon", "Velvet", "Paper", "Lucky",
     "Silver", "Broken", "Sunday", "Cosmic", "Wild", "Tiny"),
    ("Drive", "Loop", "Hearts", "Dreams", "Groove", "Rain", "Skies", "Echo", "Fever", "Waves",
     "Lights", "Run", "Bounce", "Story", "Parade"),
)  # fmt: skip
CAPTIONS: dict[str, tuple[str, ...]] = {
    "en": ("wait for it", "you won't believe this", "day in my life", "try this at home",
           "part 2", "pov:", "tell me I'm not the only one"),
    "es": ("espera al final", "no lo vas a creer", "un día conmigo", "pruébalo en casa"),
    "ca": ("espera al final", "un dia amb mi"),
    "pt": ("espera até o fim", "você não vai acreditar", "um dia comigo", "tenta em casa"),
    "de": ("wartet bis zum ende", "ein tag mit mir", "probiert das aus"),
    "fr": ("attendez la fin", "une journée avec moi", "essayez chez vous"),
    "hi": ("अंत तक देखें", "मेरा एक दिन", "घर पर आज़माएं"),
    "id": ("tunggu sampai akhir", "sehari bersamaku", "coba di rumah"),
    "ja": ("最後まで見て", "私の一日", "やってみて"),
    "tr": ("sonuna kadar izle", "benimle bir gün", "evde deneyin"),
    "ar": ("انتظر النهاية", "يوم في حياتي", "جربها في البيت"),
}  # fmt: skip
FIRST_NAMES = (
    "ana", "li", "sam", "maya", "omar", "yuki", "ravi", "lea", "tom", "sofia",
    "ali", "nina", "leo", "emma", "kai", "zoe", "arjun", "ines", "mehmet", "sari",
)  # fmt: skip
NAME_WORDS = ("daily", "films", "eats", "moves", "vibes", "life", "clips", "studio", "world",
              "plays", "talks", "travels")  # fmt: skip

# Slots of a view's events, in the order they happen.
(
    S_VIEW_START, S_WATCH, S_WATCH_2, S_COMPLETE, S_LOOP_WATCH, S_LOOP_COMPLETE, S_SKIP,
    S_NOT_INTERESTED, S_LIKE, S_UNLIKE, S_SHARE, S_COMMENT, S_FOLLOW, S_REPORT,
) = range(14)  # fmt: skip
SLOT_TYPES = (
    "view_start", "watch", "watch", "complete", "watch", "complete", "skip", "not_interested",
    "like", "unlike", "share", "comment", "follow", "report",
)  # fmt: skip
TYPE_NAMES = (*dict.fromkeys(SLOT_TYPES), "search")
T_SEARCH = len(TYPE_NAMES) - 1
SLOT_TYPE_INDEX = np.array([TYPE_NAMES.index(t) for t in SLOT_TYPES], dtype=np.int8)
T_VIEW_START, T_LIKE, T_FOLLOW = (TYPE_NAMES.index(t) for t in ("view_start", "like", "follow"))


# -- the catalog --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Catalog:
    """Who can watch and what there is to watch: ``users`` (creators included) in
    :data:`USERS_SCHEMA` and ``videos`` in :data:`VIDEOS_SCHEMA`, the columns of the analytics
    engine's ``users`` and ``videos`` relations.

    Make one with :func:`synthetic_catalog`, or from the metadata database with
    :meth:`from_rows`. A user's ``created_at`` is the day it starts being active (users created
    after the generated range start on a random day of it); a video is watched only once its
    ``created_at`` has passed (if no video exists yet on a day, all of them are watchable).
    """

    users: pa.Table
    videos: pa.Table

    def __post_init__(self) -> None:
        for name, table, schema in (
            ("users", self.users, USERS_SCHEMA),
            ("videos", self.videos, VIDEOS_SCHEMA),
        ):
            if table.schema != schema:
                raise InvalidInputError(
                    f"the catalog's {name} table does not have the {name} relation's columns",
                    details={"field": name, "expected": schema.names, "got": table.schema.names},
                )
        if self.users.num_rows == 0 or self.videos.num_rows == 0:
            raise InvalidInputError(
                "a catalog needs at least one user and one video",
                details={"field": "users" if self.users.num_rows == 0 else "videos"},
            )

    @classmethod
    def from_rows(
        cls, *, users: Iterable[Mapping[str, Any]], videos: Iterable[Mapping[str, Any]]
    ) -> Catalog:
        """From dicts keyed by the relations' column names; missing columns are null (a null
        ``duration_ms`` counts as 15 s, a null ``state`` as "ready")."""
        user_rows = [{name: row.get(name) for name in USERS_SCHEMA.names} for row in users]
        video_rows = [{name: row.get(name) for name in VIDEOS_SCHEMA.names} for row in videos]
        for row in video_rows:
            row["state"] = row["state"] or "ready"
            row["hashtags"] = list(row["hashtags"] or [])
        return cls(
            users=pa.Table.from_pylist(user_rows, schema=USERS_SCHEMA),
            videos=pa.Table.from_pylist(video_rows, schema=VIDEOS_SCHEMA),
        )


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def _hex_ids(rng: np.random.Generator, n: int, nbytes: int = 16) -> pa.Array:
    """``n`` random lower-case hex strings of ``2 * nbytes`` characters (UUID4 bits when 16)."""
    raw = _random_bytes(rng, n, nbytes)
    lut = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2").view(np.uint16)
    text = lut[raw].view(f"S{2 * nbytes}").ravel()
    return pa.array(text, type=pa.binary(2 * nbytes)).cast(pa.string())


def _random_bytes(rng: np.random.Generator, n: int, nbytes: int = 16) -> np.ndarray:
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    if nbytes == 16:  # version 4, RFC 4122 variant
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return raw


def _join(*parts: pa.Array | str) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _day_us(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000


def _language_choices(country: str) -> tuple[tuple[str, ...], np.ndarray]:
    region = REGIONS.get(country)
    languages = region.languages if region else ("en",)
    rest = len(languages) - 1
    weights = np.array([0.78] + [0.22 / rest] * rest) if rest else np.ones(1)
    return languages, weights / weights.sum()


def synthetic_catalog(
    *, users: int, videos: int, creators: int | None = None, start: date, days: int, seed: int = 0
) -> Catalog:
    """Users in the regions of :data:`REGION_PROFILES` (about half joined in the year before
    ``start``, the rest during the ``days`` from it, more towards the end), ``creators`` of them
    (default: one in twelve) with a skewed number of videos each, and ``videos`` of which a third
    exist before ``start`` and the rest appear during the range."""
    _check_positive(users=users, videos=videos, days=days)
    creators = max(1, users // 12) if creators is None else creators
    if not 1 <= creators <= users:
        raise InvalidInputError(
            "creators must be between 1 and the number of users",
            details={"field": "creators", "value": creators, "users": users},
        )
    rng = _rng(seed, 1)
    start_us = _day_us(start)
    countries = tuple(REGION_PROFILES)
    shares = np.array([p.share for p in REGION_PROFILES.values()])
    country_idx = rng.choice(len(countries), size=users, p=shares / shares.sum())
    language = np.empty(users, dtype=object)
    for i, country in enumerate(countries):  # one pass per region, not per user
        where = np.flatnonzero(country_idx == i)
        languages, weights = _language_choices(country)
        language[where] = np.array(languages, dtype=object)[
            rng.choice(len(languages), size=where.size, p=weights)
        ]
    joined_before = rng.random(users) < 0.5
    created_day = np.where(
        joined_before,
        -365.0 * rng.random(users) ** 2,  # more of the older users joined recently
        days * np.sqrt(rng.random(users)),  # growth: more join towards the end
    )
    creator_idx = rng.choice(users, size=creators, replace=False)
    created_day[creator_idx] = -30.0 - 335.0 * rng.random(creators)
    user_ids = _hex_ids(rng, users)
    names = _join(
        pa.array(FIRST_NAMES).take(pa.array(rng.integers(0, len(FIRST_NAMES), users))),
        ".",
        pa.array(NAME_WORDS).take(pa.array(rng.integers(0, len(NAME_WORDS), users))),
        pc.cast(pa.array(np.arange(users)), pa.string()),
    )
    users_table = pa.Table.from_arrays(
        [
            user_ids,
            names,
            pa.array(countries).take(pa.array(country_idx)),
            pa.array(language, type=pa.string()),
            pa.array(start_us + (created_day * DAY_US).astype(np.int64), type=UTC_MICROS),
        ],
        schema=USERS_SCHEMA,
    )

    vrng = _rng(seed, 2)
    creator_weight = vrng.pareto(1.2, creators) + 0.05
    owner = creator_idx[vrng.choice(creators, size=videos, p=creator_weight / creator_weight.sum())]
    video_day = np.where(vrng.random(videos) < 1 / 3, -60.0 * vrng.random(videos), 0.0)
    video_day = np.where(video_day == 0.0, days * vrng.random(videos), video_day)
    video_day = np.maximum(video_day, created_day[owner] + 1 / 24)
    duration = np.clip(np.exp(vrng.normal(np.log(22_000), 0.75, videos)), 3_000, 600_000)
    tag_count = vrng.integers(1, 5, videos)
    tag_weights = 1.0 / np.arange(1, len(HASHTAGS) + 1)
    tag_values = pa.array(HASHTAGS).take(
        pa.array(
            vrng.choice(len(HASHTAGS), size=int(tag_count.sum()), p=tag_weights / tag_weights.sum())
        )
    )
    # Topical tags: each week's new videos share a few tags that exist only then, so trending
    # hashtags rise and fade.
    week = np.floor(video_day / 7).astype(np.int64) + 100
    topical = vrng.random(videos) < 0.35
    topical_tag = _join(
        "trend", pc.cast(pa.array(week * 10 + vrng.integers(0, 4, videos)), pa.string())
    )
    offsets = np.zeros(videos + 1, dtype=np.int32)
    offsets[1:] = np.cumsum(tag_count + topical)
    tag_positions = offsets[:-1][:, None] + np.arange(5)[None, :]
    tag_source = np.full(int(offsets[-1]), -1, dtype=np.int64)  # -1: the topical tag
    plain_slot = np.arange(5)[None, :] < tag_count[:, None]
    tag_source[tag_positions[plain_slot]] = np.arange(int(tag_count.sum()))
    tag_owner = np.repeat(np.arange(videos), tag_count + topical)
    all_tags = pc.if_else(
        pa.array(tag_source >= 0),
        tag_values.take(pa.array(np.maximum(tag_source, 0))),
        topical_tag.take(pa.array(tag_owner)),
    )
    hashtags = pa.ListArray.from_arrays(pa.array(offsets), all_tags)
    video_country = users_table["country"].combine_chunks().take(pa.array(owner))
    video_language = users_table["language"].combine_chunks().take(pa.array(owner))
    phrase_list = [(lang, phrase) for lang, phrases in CAPTIONS.items() for phrase in phrases]
    phrase_lang = np.array([lang for lang, _ in phrase_list], dtype=object)
    phrase_pick = np.empty(videos, dtype=np.int64)
    lang_values = np.array(video_language.to_pylist(), dtype=object)
    for lang in set(lang_values):  # one pass per language
        choices = np.flatnonzero(phrase_lang == (lang if lang in CAPTIONS else "en"))
        where = np.flatnonzero(lang_values == lang)
        phrase_pick[where] = choices[vrng.integers(0, choices.size, where.size)]
    caption = _join(
        pa.array([p for _, p in phrase_list]).take(pa.array(phrase_pick)),
        " #",
        pc.binary_join(hashtags, " #"),
    )
    sound_rank = np.minimum(vrng.zipf(1.6, videos), len(SOUND_WORDS[0]) * len(SOUND_WORDS[1])) - 1
    named_sound = _join(
        pa.array(SOUND_WORDS[0]).take(pa.array(sound_rank % len(SOUND_WORDS[0]))),
        " ",
        pa.array(SOUND_WORDS[1]).take(pa.array(sound_rank // len(SOUND_WORDS[0]))),
    )
    original = pa.array(vrng.random(videos) < 0.4)
    owner_names = users_table["name"].combine_chunks().take(pa.array(owner))
    sound = pc.if_else(original, _join("original sound - ", owner_names), named_sound)
    videos_table = pa.Table.from_arrays(
        [
            _hex_ids(vrng, videos),
            user_ids.take(pa.array(owner)),
            caption,
            hashtags,
            sound,
            video_language,
            video_country,
            pa.array(np.round(duration).astype(np.int64)),
            pa.array(start_us + (video_day * DAY_US).astype(np.int64), type=UTC_MICROS),
            pa.array(np.full(videos, "ready", dtype=object), type=pa.string()),
        ],
        schema=VIDEOS_SCHEMA,
    )
    return Catalog(users=users_table, videos=videos_table)


def catalog_size(*, events: int, days: int) -> tuple[int, int]:
    """(users, videos) for a :func:`synthetic_catalog` matching ``events`` over ``days``: about
    one user in eight comes on a given day, and an active person does ~60 events a day. A much
    larger catalog thins everyone's activity (flat retention); a much smaller one makes
    everyone a heavy user."""
    users = max(50, round(events / days / 7.5))
    return users, max(50, 2 * users)


def catalog_frames(catalog: Catalog) -> dict[str, pl.DataFrame]:
    """The catalog as the ``users`` and ``videos`` relations, for lakes with no database."""
    import polars as pl

    return {
        "users": pl.from_arrow(catalog.users),  # type: ignore[dict-item]
        "videos": pl.from_arrow(catalog.videos),  # type: ignore[dict-item]
    }


def write_catalog(catalog: Catalog, directory: Path) -> dict[str, Path]:
    """``users.parquet`` and ``videos.parquet`` in ``directory`` (zstd); returns the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, table in (("users", catalog.users), ("videos", catalog.videos)):
        paths[name] = directory / f"{name}.parquet"
        pq.write_table(table, paths[name], compression="zstd")
    return paths


# -- actors and videos, fixed for one generation run --------------------------------------------


@dataclass
class _Actors:
    ids: pa.Array  # string
    signed_in: np.ndarray  # bool
    region: np.ndarray  # index into _World.regions
    offset_group: np.ndarray  # index into _World.offsets
    language: np.ndarray  # index into _World.languages
    platform: np.ndarray
    app_version: np.ndarray
    activity: np.ndarray
    first_day: np.ndarray  # days from the start; may be negative
    last_day: np.ndarray  # churned after this day
    daily_p: np.ndarray  # chance of coming back on a given day while alive

    def __len__(self) -> int:
        return len(self.signed_in)


@dataclass
class _Videos:
    ids: pa.Array
    creator_ids: pa.Array
    created_us: np.ndarray
    duration: np.ndarray  # ms
    popularity: np.ndarray
    quality: np.ndarray
    borderline: np.ndarray  # bool: reported far more often
    region: np.ndarray  # index into _World.regions, -1 when unknown


@dataclass
class _World:
    regions: tuple[str, ...]
    profiles: tuple[RegionProfile, ...]
    offsets: np.ndarray  # minutes east of UTC, per offset group
    languages: tuple[str, ...]
    actors: _Actors
    videos: _Videos
    minute_cdf: np.ndarray  # flattened (offset group, UTC minute of day)
    props: pa.Array  # search and report props JSON
    query_start: np.ndarray  # per language: first query index in props
    query_count: np.ndarray
    report_start: int
    bot_ids: pa.Array
    bot_region: np.ndarray
    bot_platform: np.ndarray
    bot_language: str
    actor_ids: pa.Array  # the actors' ids, then the bots'


def _weighted_index(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    cdf = np.cumsum(weights, dtype=np.float64)
    return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(cdf) - 1)


def _build_world(
    catalog: Catalog, *, seed: int, start: date, days: int, anonymous: float, bots: int
) -> _World:
    rng = _rng(seed, 10)
    start_us = _day_us(start)
    users = catalog.users
    n_users = users.num_rows
    n_anon = round(n_users * anonymous / (1 - anonymous)) if anonymous > 0 else 0
    n = n_users + n_anon

    countries = users["country"].combine_chunks()
    known = tuple(REGION_PROFILES)
    extra = sorted(
        {c.upper() for c in pc.unique(countries).to_pylist() if c and c.upper() not in known}
    )
    regions = known + tuple(extra)
    profiles = tuple(REGION_PROFILES.get(r, OTHER_REGION) for r in regions)
    shares = np.array([p.share for p in profiles])
    region = np.empty(n, dtype=np.int64)
    user_region = pc.index_in(pc.utf8_upper(countries), pa.array(regions)).to_numpy(
        zero_copy_only=False
    )
    user_region = np.where(np.isnan(user_region.astype(float)), -1, user_region).astype(np.int64)
    missing = user_region < 0
    user_region[missing] = _weighted_index(rng, shares, int(missing.sum()))
    region[:n_users] = user_region
    region[n_users:] = _weighted_index(rng, shares, n_anon)

    # Offsets: a US person lives in one of four zones.
    offset_pairs = sorted({o for p in profiles for o, _ in p.utc_offsets})
    offsets = np.array(offset_pairs, dtype=np.int64)
    offset_group = np.empty(n, dtype=np.int64)
    languages: list[str] = []
    language = np.full(n, -1, dtype=np.int32)
    user_language = users["language"].combine_chunks()
    lang_values = pc.utf8_lower(pc.fill_null(user_language, "")).to_numpy(zero_copy_only=False)
    for r, (code, profile) in enumerate(zip(regions, profiles, strict=True)):
        where = np.flatnonzero(region == r)
        zone_offsets = np.array([o for o, _ in profile.utc_offsets])
        zone_weights = np.array([w for _, w in profile.utc_offsets])
        zones = zone_offsets[_weighted_index(rng, zone_weights, where.size)]
        offset_group[where] = np.searchsorted(offsets, zones)
        region_languages, weights = _language_choices(code)
        for lang in region_languages:
            if lang not in languages:
                languages.append(lang)
        picks = np.array([languages.index(x) for x in region_languages])[
            _weighted_index(rng, weights, where.size)
        ]
        language[where] = picks
    for lang in sorted(set(lang_values.tolist()) - {""}):  # a user's own language wins
        if lang not in languages:
            languages.append(lang)
        language[:n_users][lang_values == lang] = languages.index(lang)

    platform = np.empty(n, dtype=np.int8)
    for r, profile in enumerate(profiles):
        where = np.flatnonzero(region == r)
        platform[where] = _weighted_index(rng, np.array(profile.platforms), where.size)
    app_version = _weighted_index(rng, APP_VERSION_WEIGHTS, n).astype(np.int8)
    app_version[platform == 2] = 0  # the web app is always the latest

    created = users["created_at"].combine_chunks()
    created_us = pc.fill_null(created.cast(pa.int64()), np.iinfo(np.int64).min).to_numpy()
    days_from_start = np.floor((created_us.astype(np.float64) - start_us) / DAY_US)
    first_day = np.empty(n, dtype=np.int64)
    first_day[:n_users] = np.where(
        np.isfinite(days_from_start) & (created_us > np.iinfo(np.int64).min),
        np.maximum(days_from_start, -3650),
        -rng.integers(1, 365, n_users),  # unknown creation day: an existing user
    )
    late = first_day[:n_users] >= days  # created after the range: joins on a day of it
    first_day[:n_users][late] = rng.integers(0, days, int(late.sum()))
    first_day[n_users:] = np.floor(-45 + (45 + days) * rng.random(n_anon))
    # Lifetimes: many try the app once or twice, some stay weeks, a core stays for months.
    pick = rng.random(n)
    signed = np.arange(n) < n_users
    short, mid, long_ = (1.5, 8.0, 240.0)
    lifetime = np.where(
        pick < np.where(signed, 0.40, 0.60),
        rng.exponential(short, n),
        np.where(
            pick < np.where(signed, 0.72, 0.90), rng.exponential(mid, n), rng.exponential(long_, n)
        ),
    )
    daily_p = 0.08 + 0.8 * rng.beta(1.4, 1.6, n)
    activity = np.exp(rng.normal(0.0, 0.8, n)) * (0.4 + daily_p)
    activity[~signed] *= 0.6

    ids = pa.concat_arrays([users["user_id"].combine_chunks(), _hex_ids(rng, n_anon)])
    actors = _Actors(
        ids=ids,
        signed_in=signed,
        region=region,
        offset_group=offset_group,
        language=language,
        platform=platform,
        app_version=app_version,
        activity=activity,
        first_day=first_day,
        last_day=first_day + np.ceil(lifetime).astype(np.int64),
        daily_p=daily_p,
    )

    # Session start minute by UTC minute of the day, for each UTC offset.
    hours = np.arange(1440) / 60.0
    local_weight = np.interp(hours, np.arange(24) + 0.5, LOCAL_HOUR_WEIGHTS, period=24)
    rows = []
    for g, offset in enumerate(offsets):
        weights = np.roll(local_weight, -int(offset))  # UTC minute m is local minute m + offset
        cdf = np.cumsum(weights) / weights.sum()
        cdf[-1] = 1.0
        rows.append(g + cdf)
    minute_cdf = np.concatenate(rows)

    videos = catalog.videos
    n_videos = videos.num_rows
    vrng = _rng(seed, 11)
    rank = vrng.permutation(n_videos) + 1
    popularity = rank.astype(np.float64) ** -0.95
    log_pop = np.log(popularity)
    z = (log_pop - log_pop.mean()) / (log_pop.std() or 1.0)
    quality = np.exp(vrng.normal(0.0, 0.22, n_videos) + 0.12 * z)
    video_region = pc.index_in(
        pc.utf8_upper(videos["region"].combine_chunks()), pa.array(regions)
    ).to_numpy(zero_copy_only=False)
    video_region = np.where(np.isnan(video_region.astype(float)), -1, video_region).astype(np.int64)
    duration = pc.fill_null(videos["duration_ms"].combine_chunks(), DEFAULT_DURATION_MS)
    duration_ms = np.maximum(duration.to_numpy().astype(np.int64), 1_000)
    video_created = pc.fill_null(
        videos["created_at"].combine_chunks().cast(pa.int64()), np.iinfo(np.int64).min
    ).to_numpy()
    video_data = _Videos(
        ids=videos["video_id"].combine_chunks(),
        creator_ids=videos["creator_id"].combine_chunks(),
        created_us=video_created,
        duration=duration_ms,
        popularity=popularity,
        quality=quality,
        borderline=vrng.random(n_videos) < 0.01,
        region=video_region,
    )

    props: list[str] = []
    query_start = np.zeros(len(languages), dtype=np.int64)
    query_count = np.zeros(len(languages), dtype=np.int64)
    for i, lang in enumerate(languages):
        queries = SEARCH_QUERIES.get(lang, SEARCH_QUERIES["en"])
        query_start[i] = len(props)
        query_count[i] = len(queries)
        props += [json.dumps({"query": q}, ensure_ascii=False) for q in queries]
    report_start = len(props)
    props += [json.dumps({"reason": r}) for r in REPORT_REASONS]

    brng = _rng(seed, 12)
    return _World(
        regions=regions,
        profiles=profiles,
        offsets=offsets,
        languages=tuple(languages),
        actors=actors,
        videos=video_data,
        minute_cdf=minute_cdf,
        props=pa.array(props),
        query_start=query_start,
        query_count=query_count,
        report_start=report_start,
        bot_ids=(bot_ids := _hex_ids(brng, bots)),
        actor_ids=pa.concat_arrays([ids, bot_ids]),
        bot_region=_weighted_index(brng, shares, bots),
        bot_platform=np.where(brng.random(bots) < 0.5, 1, 2).astype(np.int8),
        bot_language="en" if "en" in languages else languages[0],
    )


# -- one day ------------------------------------------------------------------------------------


def _active(world: _World, seed: int, day: int, weekday_factor: float) -> np.ndarray:
    """Indices of the actors who come back on ``day`` (days from the start)."""
    actors = world.actors
    rng = _rng(seed, 20, day)
    alive = (actors.first_day <= day) & (day <= actors.last_day)
    returns = rng.random(len(actors)) < np.minimum(actors.daily_p * weekday_factor, 1.0)
    return np.flatnonzero(alive & (returns | (actors.first_day == day)))


@dataclass
class _Views:
    """Per view of one day's sessions (numbers only; strings come per chunk)."""

    session: np.ndarray
    video: np.ndarray
    offset: np.ndarray  # ms from the session's start
    duration: np.ndarray
    reached: np.ndarray  # ms, first loop
    split_at: np.ndarray  # ms, end of the first span when the watch was paused, else 0
    pause: np.ndarray  # ms
    loop_reached: np.ndarray  # ms of the second loop, 0 when none
    ni_delay: np.ndarray
    end: np.ndarray  # ms after the view's start when its last event happens
    report_reason: np.ndarray
    present: np.ndarray  # (14, views) bool: which slots happen


@dataclass
class _Sessions:
    actor: np.ndarray
    start: np.ndarray  # µs since the epoch
    searches: np.ndarray
    search_gap: np.ndarray  # ms
    views: _Views
    first_view: np.ndarray  # index of the session's first view

    @property
    def view_count(self) -> np.ndarray:
        return np.diff(np.append(self.first_view, len(self.views.session)))


def _make_sessions(
    world: _World, rng: np.random.Generator, *, active: np.ndarray, count: int, day_us: int
) -> _Sessions:
    actors, videos = world.actors, world.videos
    actor = active[_weighted_index(rng, actors.activity[active], count)]
    group = actors.offset_group[actor]
    minute = (
        np.searchsorted(world.minute_cdf, group + rng.random(count), side="right") - group * 1440
    )
    minute = np.clip(minute, 0, 1439)
    start = day_us + (minute * 60_000 + rng.integers(0, 60_000, count)) * MS
    region = actors.region[actor]
    vps = np.array([p.views_per_session for p in world.profiles])[region]
    n_views = 1 + np.floor(rng.exponential(1.0, count) * (vps - 1)).astype(np.int64)
    search_rate = np.array([p.search_rate for p in world.profiles])[region]
    searches = np.where(rng.random(count) < search_rate, rng.geometric(0.65, count), 0)
    search_gap = rng.integers(4_000, 15_000, count)

    # Views.
    total = int(n_views.sum())
    first_view = np.zeros(count, dtype=np.int64)
    first_view[1:] = np.cumsum(n_views)[:-1]
    session = np.repeat(np.arange(count), n_views)
    v_region = region[session]
    video = _pick_videos(world, rng, region=v_region, day_us=day_us)
    duration = videos.duration[video]
    quality = videos.quality[video]
    profiles = world.profiles
    skip_rate = np.array([p.skip_rate for p in profiles])[v_region]
    drop_off = np.array([p.drop_off for p in profiles])[v_region]
    like_rate = np.array([p.like_rate for p in profiles])[v_region]
    share_rate = np.array([p.share_rate for p in profiles])[v_region]

    u = rng.random((total, 12))
    skipped = u[:, 0] < np.clip(skip_rate / quality, 0.05, 0.9)
    k = 1.3 * drop_off * np.sqrt(duration / 20_000) / quality
    x = rng.exponential(1.0, total) / k
    completed = ~skipped & (x >= 1.0)
    floor_ms = np.minimum(3_000, duration)
    skip_ms = 300 + (np.minimum(2_800, duration) - 300).clip(0) * u[:, 1]
    reached = np.where(
        skipped, skip_ms, np.where(completed, duration, np.maximum(x * duration, floor_ms))
    ).astype(np.int64)
    reached = np.minimum(reached, duration)
    completed |= ~skipped & (reached >= duration)
    split = ~skipped & (reached > 10_000) & (u[:, 2] < 0.2)
    split_at = np.where(split, (0.3 + 0.5 * u[:, 3]) * reached, 0).astype(np.int64)
    pause = np.where(split, np.exp(rng.normal(np.log(3_000), 0.8, total)), 0).astype(np.int64)
    loop_p = np.clip(0.3 * np.sqrt(15_000 / duration), 0.02, 0.5)
    looped = completed & (u[:, 4] < loop_p)
    loop_x = rng.exponential(1.0, total) / (0.8 * k)
    loop_reached = np.where(looped, np.maximum(np.minimum(loop_x, 1.0) * duration, 500), 0)
    loop_reached = np.minimum(loop_reached, duration).astype(np.int64)
    loop_complete = looped & (loop_reached >= duration)
    not_interested = skipped & (u[:, 5] < 0.05)
    fraction = np.where(skipped, 0.0, reached / duration) + loop_reached / duration
    liked = u[:, 6] < np.where(
        skipped, 0.05 * like_rate, like_rate * quality * (0.25 + 0.75 * np.minimum(fraction, 1.3))
    )
    unliked = liked & (u[:, 7] < 0.04)
    shared = ~skipped & (u[:, 8] < share_rate * quality * (0.2 + 0.8 * np.minimum(fraction, 1.3)))
    commented = ~skipped & (u[:, 9] < 0.006 * quality * (0.3 + 0.7 * fraction))
    followed = ~skipped & (u[:, 10] < 0.0035 * quality * np.minimum(fraction, 1.3))
    reported = u[:, 11] < 0.0003 * np.where(videos.borderline[video], 40.0, 1.0)
    ni_delay = np.where(not_interested, rng.integers(400, 2_500, total), 0)

    present = np.zeros((len(SLOT_TYPES), total), dtype=bool)
    present[S_VIEW_START] = True
    present[S_WATCH] = ~skipped
    present[S_WATCH_2] = split
    present[S_COMPLETE] = completed
    present[S_LOOP_WATCH] = looped
    present[S_LOOP_COMPLETE] = loop_complete
    present[S_SKIP] = skipped
    present[S_NOT_INTERESTED] = not_interested
    present[S_LIKE] = liked
    present[S_UNLIKE] = unliked
    present[S_SHARE] = shared
    present[S_COMMENT] = commented
    present[S_FOLLOW] = followed
    present[S_REPORT] = reported

    end = np.where(skipped, reached + ni_delay, pause + reached + loop_reached) + 2
    view_time = end + rng.integers(150, 1_500, total)  # the swipe to the next video
    exclusive = np.cumsum(view_time) - view_time
    offset = exclusive - exclusive[first_view][session] + (searches * search_gap)[session]
    views = _Views(
        session=session,
        video=video,
        offset=offset,
        duration=duration,
        reached=reached,
        split_at=split_at,
        pause=pause,
        loop_reached=loop_reached,
        ni_delay=ni_delay,
        end=end,
        report_reason=_weighted_index(rng, REPORT_REASON_WEIGHTS, total),
        present=present,
    )
    return _Sessions(
        actor=actor,
        start=start,
        searches=searches,
        search_gap=search_gap,
        views=views,
        first_view=first_view,
    )


def _pick_videos(
    world: _World, rng: np.random.Generator, *, region: np.ndarray, day_us: int
) -> np.ndarray:
    """Popularity (Zipf-like) times freshness, among the videos that exist; 60% of views from
    the viewer's own region's videos where it has some."""
    videos = world.videos
    n = len(videos.popularity)
    age_days = (day_us - videos.created_us) / DAY_US
    exists = age_days > 0
    if not exists.any():
        exists = np.ones(n, dtype=bool)
        age_days = np.ones(n)
    weight = np.where(exists, videos.popularity * (1 + np.maximum(age_days, 0) / 3) ** -0.8, 0.0)
    n_regions = len(world.regions)
    rows = []
    has_videos = np.zeros(n_regions + 1, dtype=bool)
    for r in range(n_regions + 1):
        w = weight if r == n_regions else np.where(videos.region == r, weight, 0.0)
        total = w.sum()
        has_videos[r] = total > 0
        cdf = np.cumsum(w) / total if total > 0 else np.linspace(0, 1, n)
        cdf[-1] = 1.0
        rows.append(r + cdf)
    cdf_flat = np.concatenate(rows)
    row = np.where((rng.random(len(region)) < 0.6) & has_videos[region], region, n_regions)
    picked = np.searchsorted(cdf_flat, row + rng.random(len(region)), side="right") - row * n
    return np.clip(picked, 0, n - 1)


def _event_counts(sessions: _Sessions) -> np.ndarray:
    per_view = sessions.views.present.sum(axis=0)
    per_session = np.add.reduceat(per_view, sessions.first_view) if len(per_view) else per_view
    return per_session + sessions.searches


def _concat_sessions(parts: list[_Sessions]) -> _Sessions:
    if len(parts) == 1:
        return parts[0]
    view_base = np.cumsum([0] + [len(p.views.session) for p in parts[:-1]])
    session_base = np.cumsum([0] + [len(p.actor) for p in parts[:-1]])
    views = _Views(
        **{
            key: np.concatenate(
                [
                    getattr(p.views, key) + (sb if key == "session" else 0)
                    for p, sb in zip(parts, session_base, strict=True)
                ],
                axis=1 if key == "present" else 0,
            )
            for key in _Views.__dataclass_fields__
        }
    )
    return _Sessions(
        actor=np.concatenate([p.actor for p in parts]),
        start=np.concatenate([p.start for p in parts]),
        searches=np.concatenate([p.searches for p in parts]),
        search_gap=np.concatenate([p.search_gap for p in parts]),
        views=views,
        first_view=np.concatenate(
            [p.first_view + vb for p, vb in zip(parts, view_base, strict=True)]
        ),
    )


# -- rows to arrow ------------------------------------------------------------------------------


@dataclass
class _Rows:
    """Event rows as numbers; -1 is null for the index and measure columns."""

    type: np.ndarray
    ts: np.ndarray  # µs
    actor: np.ndarray  # index into actors, or -1 - bot
    session: np.ndarray  # index into this chunk's session ids
    video: np.ndarray
    target_video: np.ndarray  # follow: the creator of this video
    watched: np.ndarray
    position: np.ndarray
    props: np.ndarray

    def take(self, index: np.ndarray) -> _Rows:
        return _Rows(**{k: v[index] for k, v in self.__dict__.items()})

    @staticmethod
    def concat(parts: list[_Rows]) -> _Rows:
        return _Rows(
            **{
                k: np.concatenate([getattr(p, k) for p in parts])
                for k in _Rows.__dataclass_fields__
            }
        )


def _slot_fields(
    world: _World, rng: np.random.Generator, views: _Views, g: np.ndarray, slot: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For the views ``g`` that have an event in ``slot``: its time (ms after the view's
    start), ``watched_ms``, ``position_ms`` and props index (-1: null)."""
    n = len(g)
    none = np.full(n, -1, dtype=np.int64)
    reached = views.reached[g]
    if slot == S_VIEW_START:
        return np.zeros(n, dtype=np.int64), none, none, none
    if slot == S_WATCH:
        split_at = views.split_at[g]
        span = np.where(split_at > 0, split_at, reached)
        return span, span, span, none
    if slot == S_WATCH_2:
        return views.pause[g] + reached, reached - views.split_at[g], reached, none
    if slot in (S_COMPLETE, S_LOOP_WATCH, S_LOOP_COMPLETE):
        watch_end = views.pause[g] + reached
        if slot == S_COMPLETE:
            return watch_end + 1, none, views.duration[g], none
        loop = views.loop_reached[g]
        if slot == S_LOOP_WATCH:
            return watch_end + loop + 1, loop, loop, none
        return watch_end + loop + 2, none, views.duration[g], none
    if slot == S_SKIP:
        return reached, reached, reached, none
    if slot == S_NOT_INTERESTED:
        return reached + views.ni_delay[g], none, none, none
    if slot == S_UNLIKE:  # after the like, which happens before the view's end
        return views.end[g], none, none, none
    anytime = (rng.random(n) * views.end[g]).astype(np.int64)
    if slot == S_REPORT:
        return anytime, none, none, world.report_start + views.report_reason[g]
    return anytime, none, none, none


def _session_rows(
    world: _World,
    rng: np.random.Generator,
    sessions: _Sessions,
    chosen: np.ndarray,
    *,
    partial: int,
    keep_partial: int,
) -> _Rows:
    """The events of sessions ``chosen`` (their order: session ids 0..n-1 of the chunk);
    session ``partial`` (an index into ``chosen``, or -1) keeps only its first
    ``keep_partial`` events."""
    view_count = sessions.view_count[chosen]
    first = sessions.first_view[chosen]
    view_index = np.repeat(first - np.cumsum(view_count) + view_count, view_count) + np.arange(
        int(view_count.sum())
    )
    local_session = np.repeat(np.arange(len(chosen)), view_count)
    views = sessions.views
    present = views.present[:, view_index]
    start = sessions.start[chosen]
    actor_of_session = sessions.actor[chosen]
    blocks = []
    for slot in range(len(SLOT_TYPES)):  # one block per kind of event, not per event
        which = np.flatnonzero(present[slot])
        g = view_index[which]
        n = len(g)
        off, watched, position, props = _slot_fields(world, rng, views, g, slot)
        row_session = local_session[which]
        video = views.video[g]
        blocks.append(
            _Rows(
                type=np.full(n, SLOT_TYPE_INDEX[slot], dtype=np.int8),
                ts=start[row_session] + (views.offset[g] + off) * MS,
                actor=actor_of_session[row_session],
                session=row_session,
                video=video,
                target_video=video if slot == S_FOLLOW else np.full(n, -1),
                watched=watched,
                position=position,
                props=props,
            )
        )

    searches = sessions.searches[chosen]
    search_session = np.repeat(np.arange(len(chosen)), searches)
    nth = np.arange(len(search_session)) - np.repeat(np.cumsum(searches) - searches, searches)
    search_actor = sessions.actor[chosen][search_session]
    lang = world.actors.language[search_actor]
    query = world.query_start[lang] + (
        rng.random(len(search_session)) * world.query_count[lang]
    ).astype(np.int64)
    m = len(search_session)
    search_rows = _Rows(
        type=np.full(m, T_SEARCH, dtype=np.int8),
        ts=start[search_session] + nth * sessions.search_gap[chosen][search_session] * MS,
        actor=search_actor,
        session=search_session,
        video=np.full(m, -1),
        target_video=np.full(m, -1),
        watched=np.full(m, -1),
        position=np.full(m, -1),
        props=query,
    )
    rows = _Rows.concat([search_rows, *blocks])
    if partial >= 0:
        mine = np.flatnonzero(rows.session == partial)
        drop = mine[np.argsort(rows.ts[mine], kind="stable")][keep_partial:]
        keep = np.ones(len(rows.ts), dtype=bool)
        keep[drop] = False
        rows = rows.take(np.flatnonzero(keep))
    return rows


def _bot_rows(
    world: _World, rng: np.random.Generator, *, count: int, day_us: int, session_base: int
) -> _Rows:
    """Bursts of view_start, like (and every tenth a follow) ~3 events a second, one burst per
    bot per day; uniform random videos that exist."""
    bots = len(world.bot_ids)
    per_bot = np.full(bots, count // bots)
    per_bot[: count % bots] += 1
    bot = np.repeat(np.arange(bots), per_bot)
    nth = np.arange(count) - np.repeat(np.cumsum(per_bot) - per_bot, per_bot)
    burst_start = day_us + rng.integers(0, DAY_MS // 2, bots) * MS
    pattern = np.array([T_VIEW_START, T_LIKE] * 4 + [T_VIEW_START, T_FOLLOW], dtype=np.int8)
    exists = np.flatnonzero(world.videos.created_us < day_us)
    if exists.size == 0:
        exists = np.arange(len(world.videos.popularity))
    video = exists[rng.integers(0, exists.size, count)]
    video = np.where(nth % 2 == 1, np.roll(video, 1), video)  # like the video just started
    kind = pattern[nth % len(pattern)]
    return _Rows(
        type=kind,
        ts=burst_start[bot] + nth * rng.integers(250, 400, count) * MS,
        actor=-1 - bot,
        session=session_base + bot,
        video=video,
        target_video=np.where(kind == T_FOLLOW, video, -1),
        watched=np.full(count, -1),
        position=np.full(count, -1),
        props=np.full(count, -1),
    )


def _nullable_int32(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype(np.int32), mask=values < 0)


def _to_table(
    world: _World,
    rng: np.random.Generator,
    rows: _Rows,
    *,
    session_count: int,
    duplicates: int,
    mark_bots: bool,
) -> pa.Table:
    n = len(rows.ts)
    actors = world.actors
    received_delay = np.exp(rng.normal(np.log(1_500), 1.0, n)).astype(np.int64)
    offline = rng.random(n) < 0.005  # sent later from a phone that was offline
    received_delay[offline] += rng.integers(60_000, 6 * 3_600_000, int(offline.sum()))
    event_id = _random_bytes(rng, n)
    source = np.concatenate([np.arange(n), rng.integers(0, n, duplicates)])
    resend = np.zeros(n + duplicates, dtype=np.int64)
    resend[n:] = rng.integers(1_000, 120_000, duplicates)
    order = np.argsort(rows.ts[source], kind="stable")
    source, resend = source[order], resend[order]
    rows = rows.take(source)
    received = rows.ts + (received_delay[source] + resend) * MS
    event_id = event_id[source]

    is_bot = rows.actor < 0
    actor = np.where(is_bot, 0, rows.actor)
    signed = actors.signed_in[actor] & ~is_bot
    id_index = actor
    region = actors.region[actor]
    platform = actors.platform[actor]
    language = actors.language[actor]
    app_version = actors.app_version[actor]
    if is_bot.any():
        bot = np.where(is_bot, -1 - rows.actor, 0)
        id_index = np.where(is_bot, len(actors) + bot, actor)
        region = np.where(is_bot, world.bot_region[bot], region)
        platform = np.where(is_bot, world.bot_platform[bot], platform)
        language = np.where(is_bot, world.languages.index(world.bot_language), language)
        app_version = np.where(is_bot, len(APP_VERSIONS) - 1, app_version)
    bot_flag = is_bot & mark_bots
    session_ids = _hex_ids(rng, session_count, 8)
    video = pa.array(rows.video, mask=rows.video < 0)
    target = pa.array(rows.target_video, mask=rows.target_video < 0)
    columns = [
        pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(16), len(source), [None, pa.py_buffer(event_id.tobytes())]
        ),
        pa.array(TYPE_NAMES).take(pa.array(rows.type)),
        pa.array(rows.ts, type=UTC_MICROS),
        pa.nulls(len(source), UTC_MICROS),
        pa.array(received, type=UTC_MICROS),
        world.actor_ids.take(pa.array(id_index, mask=~signed)),  # user_id
        world.actor_ids.take(pa.array(id_index, mask=signed)),  # device_id
        session_ids.take(pa.array(rows.session)),
        world.videos.ids.take(video),
        world.videos.creator_ids.take(target),
        pa.array(world.regions).take(pa.array(region)),
        pa.array(world.languages).take(pa.array(language)),
        pa.array(PLATFORM_NAMES).take(pa.array(platform)),
        pa.array(APP_VERSIONS).take(pa.array(app_version)),
        _nullable_int32(rows.watched),
        _nullable_int32(rows.position),
        world.props.take(pa.array(rows.props, mask=rows.props < 0)),
        pa.array(bot_flag),
        pa.array(["rate"]).take(pa.array(np.zeros(len(source), dtype=np.int8), mask=~bot_flag)),
        pa.array(np.zeros(len(source), dtype=bool)),
    ]
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


# -- the generator ------------------------------------------------------------------------------


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise InvalidInputError(
                f"{name} must be at least 1", details={"field": name, "value": value}
            )


def _split(total: int, weights: np.ndarray) -> np.ndarray:
    """``total`` split in proportion to ``weights``, by largest remainder."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(counts - exact, kind="stable")[: total - int(counts.sum())]] += 1
    return counts


def generate_events(
    catalog: Catalog,
    *,
    events: int,
    start: date,
    days: int,
    seed: int = 0,
    duplicates: float = 0.005,
    bots: int = 0,
    bot_share: float = 0.01,
    mark_bots: bool = False,
    anonymous: float = 0.3,
    chunk_rows: int = 2_000_000,
) -> Iterator[pa.Table]:
    """Exactly ``events`` engagement events over ``days`` UTC days from ``start``, as tables in
    :data:`~analytics.schema.EVENT_SCHEMA`, day after day, each of at most about ``chunk_rows``
    rows and sorted by ``ts`` (a session running past midnight spills into the next day).

    The same arguments give the same tables. ``duplicates`` is the share of rows that are a
    second send of another row (same ``event_id``, later ``received_at``); ``bots`` actors (not
    in the catalog, anonymous devices) send ``bot_share`` of the events; ``mark_bots`` flags
    them as the collector would. ``anonymous`` is the share of actors that are signed-out
    devices. Memory is bounded by one day's views and one chunk's rows.
    """
    _check_positive(events=events, days=days, chunk_rows=chunk_rows)
    for name, value, high in (
        ("duplicates", duplicates, 0.5),
        ("bot_share", bot_share, 0.5),
        ("anonymous", anonymous, 0.95),
    ):
        if not 0.0 <= value <= high:
            raise InvalidInputError(
                f"{name} must be between 0 and {high}", details={"field": name, "value": value}
            )
    if bots < 0 or seed < 0:
        field = "bots" if bots < 0 else "seed"
        raise InvalidInputError(
            f"{field} must not be negative", details={"field": field, "value": min(bots, seed)}
        )
    world = _build_world(catalog, seed=seed, start=start, days=days, anonymous=anonymous, bots=bots)
    weekday = np.array(
        [WEEKDAY_FACTORS[(start + timedelta(days=d)).weekday()] for d in range(days)]
    )
    day_weight = np.array(
        [world.actors.activity[_active(world, seed, d, weekday[d])].sum() for d in range(days)]
    )
    if not day_weight.any():
        day_weight = np.ones(days)
    day_events = _split(events, day_weight + 1e-9)
    for day in range(days):
        yield from _generate_day(
            world,
            seed=seed,
            day=day,
            day_us=_day_us(start + timedelta(days=day)),
            weekday_factor=float(weekday[day]),
            target=int(day_events[day]),
            duplicates=duplicates,
            bot_share=bot_share if bots else 0.0,
            mark_bots=mark_bots,
            chunk_rows=chunk_rows,
        )


def _generate_day(
    world: _World,
    *,
    seed: int,
    day: int,
    day_us: int,
    weekday_factor: float,
    target: int,
    duplicates: float,
    bot_share: float,
    mark_bots: bool,
    chunk_rows: int,
) -> Iterator[pa.Table]:
    if target == 0:
        return
    dup_count = round(target * duplicates)
    bot_count = round(target * bot_share)
    human = target - dup_count - bot_count
    if human <= 0:  # too few events for the shares: all human
        human, dup_count, bot_count = target, 0, 0
    active = _active(world, seed, day, weekday_factor)
    if active.size == 0:
        alive = world.actors
        active = np.flatnonzero(alive.first_day <= day)
        if active.size == 0:
            active = np.arange(len(alive))

    # Enough sessions for the day's events, then a random subset of them cut to the exact count.
    parts: list[_Sessions] = []
    have, per_session, batch = 0, 30.0, 0
    while have < human:
        count = max(1, int((human - have) / per_session * 1.08) + 1)
        part = _make_sessions(
            world, _rng(seed, 30, day, batch), active=active, count=count, day_us=day_us
        )
        made = int(_event_counts(part).sum())
        per_session = max(made / count, 1.0)
        parts.append(part)
        have += made
        batch += 1
    sessions = _concat_sessions(parts)
    counts = _event_counts(sessions)
    rng = _rng(seed, 31, day)
    order = rng.permutation(len(counts))
    cumulative = np.cumsum(counts[order])
    last = int(np.searchsorted(cumulative, human))  # the session that reaches the target
    kept = order[: last + 1]
    keep_last = human - (int(cumulative[last - 1]) if last > 0 else 0)
    partial_session = order[last]
    kept = kept[np.argsort(sessions.start[kept], kind="stable")]

    # Chunks of consecutive sessions (by start time).
    kept_counts = counts[kept].copy()
    kept_counts[kept == partial_session] = keep_last
    _, chunk_of = np.unique(
        (np.cumsum(kept_counts) - kept_counts) // chunk_rows, return_inverse=True
    )
    n_chunks = int(chunk_of.max()) + 1
    chunk_events = np.bincount(chunk_of, weights=kept_counts, minlength=n_chunks).astype(np.int64)
    chunk_dups = _split(dup_count, chunk_events + 1e-9) if dup_count else np.zeros(n_chunks, int)
    for c in range(n_chunks):
        chosen = kept[chunk_of == c]
        crng = _rng(seed, 32, day, c)
        where = np.flatnonzero(chosen == partial_session)
        rows = _session_rows(
            world,
            crng,
            sessions,
            chosen,
            partial=int(where[0]) if where.size else -1,
            keep_partial=keep_last,
        )
        session_count = len(chosen)
        if c == n_chunks - 1 and bot_count:
            bot_rows = _bot_rows(
                world,
                _rng(seed, 33, day),
                count=bot_count,
                day_us=day_us,
                session_base=session_count,
            )
            rows = _Rows.concat([rows, bot_rows])
            session_count += len(world.bot_ids)
        yield _to_table(
            world,
            crng,
            rows,
            session_count=session_count,
            duplicates=int(chunk_dups[c]),
            mark_bots=mark_bots,
        )


# -- the collector's input format ---------------------------------------------------------------


def _iso(micros: int) -> str:
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


CLIENT_FIELDS = (
    "event_id", "event_type", "ts", "user_id", "device_id", "session_id", "video_id",
    "target_user_id", "region", "language", "platform", "app_version", "watched_ms",
    "position_ms", "props",
)  # fmt: skip


def to_client_events(table: pa.Table) -> list[dict[str, Any]]:
    """Rows of an event table as the JSON objects a client posts to the collector: ``event_id``
    as UUID text, ``ts`` as ISO 8601 with ``Z`` (ms), ``props`` as an object, null fields left
    out; the collector's own columns (``received_at``, ``is_bot``, ...) are not sent."""
    selected = table.select(list(CLIENT_FIELDS))
    ts = selected["ts"].combine_chunks().cast(pa.int64()).to_pylist()
    out = []
    for row, micros in zip(selected.to_pylist(), ts, strict=True):
        event = {k: v for k, v in row.items() if v is not None}
        event["event_id"] = str(uuid.UUID(bytes=row["event_id"]))
        event["ts"] = _iso(micros)
        if "props" in event:
            event["props"] = json.loads(event["props"])
        out.append(event)
    return out


def client_events(
    catalog: Catalog,
    *,
    events: int,
    start: date,
    days: int,
    seed: int = 0,
    duplicates: float = 0.005,
    bots: int = 0,
    anonymous: float = 0.3,
) -> list[dict[str, Any]]:
    """:func:`generate_events` as client JSON objects (see :func:`to_client_events`), for the
    demo and the collector's benchmark; at most 2,000,000 events (they are Python objects)."""
    if events > 2_000_000:
        raise InvalidInputError(
            "client_events makes at most 2,000,000 events; use generate_events for more",
            details={"field": "events", "value": events, "limit": 2_000_000},
        )
    out: list[dict[str, Any]] = []
    for table in generate_events(
        catalog,
        events=events,
        start=start,
        days=days,
        seed=seed,
        duplicates=duplicates,
        bots=bots,
        anonymous=anonymous,
    ):
        out += to_client_events(table)
    return out
