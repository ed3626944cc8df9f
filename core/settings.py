"""Vigil's configuration: one typed settings tree read from ``VIGIL_*`` variables and ``.env``.

Nested groups use a double underscore: ``VIGIL_BUS__MAX_ATTEMPTS=8``. Every field carries a
description, which ``vigil config show`` prints beside the effective value.
"""

from __future__ import annotations

import difflib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "VIGIL_"
NESTED_DELIMITER = "__"

#: Secrets that ship in examples and docs. Refused outside development.
DEVELOPMENT_SECRET = "dev-secret-change-me-before-any-real-use"
PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "secret", "password", "vigil", DEVELOPMENT_SECRET}
)


class ConfigError(Exception):
    """The configuration cannot be used. The message names each variable and what is allowed."""


class HttpSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the HTTP server binds to.")
    port: int = Field(8000, ge=1, le=65535, description="Port of the HTTP server.")
    workers: int = Field(1, ge=1, le=64, description="Worker processes of `vigil api`.")
    max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="Largest request body accepted outside upload routes (bytes); more gets 413.",
    )
    public_url: str | None = Field(
        None, description="URL users reach Vigil at; defaults to http://HOST:PORT."
    )


class AuthSettings(BaseModel):
    secret_key: SecretStr = Field(
        SecretStr(DEVELOPMENT_SECRET),
        description="Key that signs access tokens and session cookies (32+ random bytes).",
    )
    access_token_minutes: int = Field(
        15, ge=1, le=24 * 60, description="Lifetime of a JWT access token (minutes)."
    )
    refresh_token_days: int = Field(
        14, ge=1, le=365, description="Lifetime of a refresh token (days)."
    )
    session_hours: int = Field(
        12, ge=1, le=24 * 30, description="Lifetime of a dashboard session cookie (hours)."
    )
    cookie_secure: bool = Field(
        False, description="Mark the session cookie Secure (set true behind HTTPS)."
    )
    api_key_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="How long a process trusts an API key it checked (0: check every request); "
        "a revoked key stops working within this time.",
    )


class BusSettings(BaseModel):
    max_attempts: int = Field(
        5, ge=1, le=100, description="Deliveries of a message before it goes to dead letters."
    )
    backoff_initial_seconds: float = Field(
        1.0, gt=0, description="Delay before the first retry; doubles each attempt."
    )
    backoff_max_seconds: float = Field(
        300.0, gt=0, description="Longest delay between two retries."
    )
    ack_wait_seconds: float = Field(
        30.0,
        gt=0,
        description="A delivery not acknowledged in this time (consumer died) is redelivered.",
    )
    batch_size: int = Field(
        64, ge=1, le=10_000, description="Messages a consumer fetches per round trip."
    )


class S3Settings(BaseModel):
    endpoint_url: str | None = Field(
        None, description="S3 API endpoint (MinIO, Ceph...); empty means AWS."
    )
    region: str = Field("us-east-1", description="S3 region name.")
    access_key_id: SecretStr | None = Field(None, description="S3 access key id.")
    secret_access_key: SecretStr | None = Field(None, description="S3 secret access key.")


class MetricsSettings(BaseModel):
    scrape_token: SecretStr | None = Field(
        None,
        description="Bearer token Prometheus may present on /metrics instead of an API key "
        "with the metrics:read scope; empty accepts API keys and tokens only.",
    )


class WorkerSettings(BaseModel):
    health_port: int = Field(
        0,
        ge=0,
        le=65535,
        description="Port of a worker's /healthz, /readyz and /metrics; 0 serves none "
        "(under `vigil up` the API's /metrics already covers the workers).",
    )


class MediaSettings(BaseModel):
    """Limits on uploaded media and the shape of what the media worker makes of it."""

    max_upload_bytes: int = Field(
        512 * 1024 * 1024, ge=1, description="Largest upload accepted, in bytes."
    )
    max_form_bytes: int = Field(
        64 * 1024 * 1024,
        ge=1,
        description="Largest one-shot (multipart form) upload, in bytes; bigger files use tus.",
    )
    max_duration_seconds: float = Field(
        600.0, gt=0, description="Longest video accepted, in seconds."
    )
    min_edge_px: int = Field(
        16, ge=1, description="Smallest width or height of a video accepted, in pixels."
    )
    max_edge_px: int = Field(
        4096, ge=16, description="Largest width or height of a video accepted, in pixels."
    )
    max_fps: float = Field(120.0, gt=0, description="Highest frame rate accepted.")
    containers: list[str] = Field(
        ["mp4", "mov", "3gp", "matroska", "webm", "avi", "flv", "mpegts"],
        description="Container formats accepted (ffprobe format names).",
    )
    video_codecs: list[str] = Field(
        ["h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "h263"],
        description="Video codecs accepted (ffprobe codec names).",
    )
    audio_codecs: list[str] = Field(
        [
            "aac",
            "mp3",
            "opus",
            "vorbis",
            "ac3",
            "eac3",
            "flac",
            "alac",
            "pcm_s16le",
            "amr_nb",
            "amr_wb",
        ],
        description="Audio codecs accepted (ffprobe codec names); other audio is refused.",
    )
    ladder_heights: list[int] = Field(
        [1080, 720, 480, 360],
        description="Rungs of the HLS ladder, by short edge; rungs above the source are skipped.",
    )
    preset: str = Field("veryfast", description="x264 preset of the ladder encodes.")
    segment_seconds: float = Field(
        4.0, gt=0, le=10, description="Target HLS segment length, in seconds."
    )
    keyframe_seconds: float = Field(
        2.0, gt=0, le=10, description="Keyframe interval of every rung, in seconds (aligned)."
    )
    hash_interval_seconds: float = Field(
        1.0,
        ge=0,
        description="Seconds between frames given a perceptual hash; 0 hashes every frame.",
    )
    storyboard_interval_seconds: float = Field(
        2.0, gt=0, description="Seconds between frames of the storyboard sprite."
    )
    process_timeout_seconds: float = Field(
        900.0, gt=0, description="Longest one ffmpeg run of the media worker may take."
    )
    probe_timeout_seconds: float = Field(
        30.0, gt=0, description="Longest one ffprobe run may take."
    )
    upload_expiry_hours: float = Field(
        24.0, gt=0, description="Unfinished resumable uploads expire after this many hours."
    )
    work_dir: Path | None = Field(
        None, description="Scratch directory of the media worker; empty means DATA_DIR/tmp."
    )


class LocalizationSettings(BaseModel):
    """Language identification and translation (``VIGIL_LOCALIZATION__*``)."""

    langid_detector: str = Field(
        "auto",
        description="Language detector: auto (hybrid when the fastText model is installed, "
        "else lingua), hybrid (fastText, and lingua for the texts fastText is unsure of), "
        "fasttext, lingua or langdetect.",
    )
    languages: list[str] = Field(
        default_factory=list,
        description="ISO 639-1 languages the detector may answer; empty means those of the "
        "regions the platform serves.",
    )
    langid_min_letters: int = Field(
        4, ge=0, description="Texts with fewer letters than this are undetermined ('und')."
    )
    langid_min_confidence: float = Field(
        0.5, ge=0, le=1, description="A guess less confident than this is undetermined ('und')."
    )
    langid_min_margin: float = Field(
        0.1,
        ge=0,
        le=1,
        description="Mixed or ambiguous text: when the two best languages are closer than "
        "this, the answer is undetermined ('und').",
    )
    translation_cache_size: int = Field(
        4096, ge=0, description="Translations kept in memory per process (LRU)."
    )
    default_review_language: str = Field(
        "en", description="Review language of a moderator who has not chosen one."
    )


class ModerationSettings(BaseModel):
    """Classifiers, hash banks, the policy engine, cases and strikes (``VIGIL_MODERATION__*``)."""

    toxicity_model: str = Field(
        "auto",
        description="Text classifier: auto (a Detoxify checkpoint when one is installed, else "
        "the compact multilingual model), compact, profanity-check, or detoxify-<variant>.",
    )
    detoxify_runtime: str = Field(
        "onnx", description="How Detoxify checkpoints run: onnx (the serving path) or torch."
    )
    detoxify_threads: int = Field(
        0,
        ge=0,
        description="ONNX Runtime intra-op threads for Detoxify; 0 means every CPU this process "
        "may use (fastest when the worker has the machine to itself, see docs/benchmarks.md).",
    )
    policy_file: Path | None = Field(
        None, description="Policy YAML; empty means the shipped moderation/policies/default.yaml."
    )
    regions_dir: Path | None = Field(
        None,
        description="Directory of per-country YAML files; empty means the shipped "
        "localization/regions.",
    )
    hash_distance_threshold: int = Field(
        31, ge=0, le=256, description="PDQ frames match when their Hamming distance is below this."
    )
    hash_quality_threshold: int = Field(
        50, ge=0, le=100, description="Frames of lower PDQ quality take no part in matching."
    )
    hash_min_query_percent: float = Field(
        50.0,
        ge=0,
        le=100,
        description="A video matches a banked video when at least this share (percent) of its "
        "frames match (or the banked video's share reaches HASH_MIN_TARGET_PERCENT).",
    )
    hash_min_target_percent: float = Field(
        50.0,
        ge=0,
        le=100,
        description="A video matches a banked video when it contains at least this share "
        "(percent) of the banked video's frames (or its own share reaches HASH_MIN_QUERY_PERCENT).",
    )
    strike_expiry_days: float = Field(
        90.0, gt=0, description="A strike stops counting this many days after it was given."
    )
    strike_restrict_threshold: int = Field(
        3,
        ge=1,
        description="Active strikes at which an author's account is flagged for restriction.",
    )
    case_sla_hours: dict[str, float] = Field(
        default_factory=dict,
        description="Review deadlines (hours) by queue or reason code, over the built-in ones, "
        'e.g. {"hate": 8, "appeals": 72}.',
    )
    case_claim_minutes: float = Field(
        30.0, gt=0, description="How long a moderator's claim on a case keeps others off it."
    )
    batch_size: int = Field(
        64, ge=1, le=4096, description="Texts scored together by the moderation worker."
    )
    recheck_seconds: float = Field(
        300.0,
        gt=0,
        description="How often the worker looks for subjects checked by older models or an "
        "older policy, and re-checks them.",
    )
    recheck_batch: int = Field(
        500, ge=1, description="Most subjects re-checked in one pass of the re-check job."
    )


class EventsSettings(BaseModel):
    """The engagement event collector and the lake it feeds (``VIGIL_EVENTS__*``)."""

    max_batch_events: int = Field(
        1000, ge=1, le=100_000, description="Most events in one `POST /v1/events` batch."
    )
    max_batch_bytes: int = Field(
        1024 * 1024,
        ge=1024,
        description="Largest batch body in bytes, after gzip decompression.",
    )
    max_props_bytes: int = Field(
        2048, ge=0, description="Largest `props` object of one event, as compact JSON bytes."
    )
    max_props_keys: int = Field(32, ge=0, description="Most keys in one event's `props`.")
    max_future_seconds: float = Field(
        300.0,
        ge=0,
        description="A client time further ahead of the server's is clamped to arrival time.",
    )
    max_age_days: float = Field(
        30.0,
        gt=0,
        description="A client time older than this is clamped to arrival time (and flagged).",
    )
    bot_user_agents: str = Field(
        r"bot\b|crawl|spider|slurp|headless|python-requests|python-urllib|curl/|wget/|"
        r"scrapy|httpclient|phantomjs|selenium|puppeteer|playwright",
        description="Regular expression (case-insensitive) of User-Agent values flagged as bots.",
    )
    bot_max_events_per_minute: int = Field(
        600,
        ge=1,
        description="An actor sending more events than this in one minute is flagged as a bot.",
    )
    flush_seconds: float = Field(
        10.0, gt=0, description="Longest time accepted events wait before a lake flush."
    )
    flush_events: int = Field(
        500_000, ge=1, description="A lake flush starts early once this many events wait."
    )
    dedupe_days: float = Field(
        8.0,
        gt=0,
        description="How long an event id is remembered to drop client retries (then "
        "compaction still drops duplicates within a day's partition).",
    )
    retention_days: int = Field(
        400, ge=1, description="Lake partitions older than this many days are dropped."
    )
    compact_interval_seconds: float = Field(
        300.0, gt=0, description="How often the lake sink looks for partitions to compact."
    )
    compact_min_files: int = Field(
        8, ge=2, description="A day's partition is compacted once it has this many files."
    )
    grace_seconds: float = Field(
        300.0,
        ge=0,
        description="Replaced lake files are deleted this long after, so running queries finish.",
    )
    state_dir: Path | None = Field(
        None,
        description="Local state of the lake sink (dedupe index, staging); empty means "
        "DATA_DIR/lake-state.",
    )
    cache_dir: Path | None = Field(
        None,
        description="Local copies of lake files read from S3; empty means DATA_DIR/cache/lake.",
    )


class LogSettings(BaseModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest level written to the log."
    )
    format: Literal["text", "json"] = Field(
        "text", description="`text` for people, `json` for log shippers."
    )


class Settings(BaseSettings):
    """The effective configuration of one Vigil process."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        validate_default=True,
    )

    env: Literal["development", "test", "production"] = Field(
        "development",
        description="`development` allows placeholder secrets; `production` refuses them.",
    )
    data_dir: Path = Field(
        Path("var"), description="Directory for the embedded stores (database, bus, objects)."
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the metadata store; empty means SQLite in DATA_DIR.",
    )
    bus_url: str | None = Field(
        None, description="sqlite:///PATH or nats://HOST:PORT; empty means SQLite in DATA_DIR."
    )
    storage_url: str | None = Field(
        None, description="file:///PATH or s3://BUCKET[/PREFIX]; empty means DATA_DIR/objects."
    )
    models_dir: Path | None = Field(
        None, description="Directory of model files; empty means DATA_DIR/models."
    )
    http: HttpSettings = Field(default_factory=HttpSettings)  # type: ignore[arg-type]
    auth: AuthSettings = Field(default_factory=AuthSettings)  # type: ignore[arg-type]
    bus: BusSettings = Field(default_factory=BusSettings)  # type: ignore[arg-type]
    s3: S3Settings = Field(default_factory=S3Settings)  # type: ignore[arg-type]
    worker: WorkerSettings = Field(default_factory=WorkerSettings)  # type: ignore[arg-type]
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)  # type: ignore[arg-type]
    log: LogSettings = Field(default_factory=LogSettings)  # type: ignore[arg-type]
    media: MediaSettings = Field(default_factory=MediaSettings)  # type: ignore[arg-type]
    events: EventsSettings = Field(default_factory=EventsSettings)  # type: ignore[arg-type]
    localization: LocalizationSettings = Field(default_factory=LocalizationSettings)  # type: ignore[arg-type]
    moderation: ModerationSettings = Field(default_factory=ModerationSettings)  # type: ignore[arg-type]

    @field_validator("database_url", "bus_url", "storage_url")
    @classmethod
    def _known_scheme(cls, value: str | None, info: Any) -> str | None:
        if value in (None, ""):
            return None
        allowed = {
            "database_url": ("sqlite", "postgresql"),
            "bus_url": ("sqlite", "nats"),
            "storage_url": ("file", "s3"),
        }[info.field_name]
        scheme = value.split(":", 1)[0].split("+", 1)[0]
        if scheme not in allowed:
            raise ValueError(f"scheme must be one of {', '.join(allowed)}")
        return value

    # Derived locations: the embedded defaults live under data_dir.

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'vigil.db').resolve()}"

    @property
    def effective_bus_url(self) -> str:
        return self.bus_url or f"sqlite:///{(self.data_dir / 'bus.db').resolve()}"

    @property
    def effective_storage_url(self) -> str:
        return self.storage_url or f"file://{(self.data_dir / 'objects').resolve()}"

    @property
    def effective_models_dir(self) -> Path:
        return self.models_dir or self.data_dir / "models"

    @property
    def effective_work_dir(self) -> Path:
        return self.media.work_dir or self.data_dir / "tmp"

    @property
    def effective_lake_state_dir(self) -> Path:
        return self.events.state_dir or self.data_dir / "lake-state"

    @property
    def effective_lake_cache_dir(self) -> Path:
        return self.events.cache_dir or self.data_dir / "cache" / "lake"

    @property
    def effective_public_url(self) -> str:
        return self.http.public_url or f"http://{self.http.host}:{self.http.port}"

    def check_secrets(self) -> None:
        """Refuse placeholder secrets outside development."""
        if self.env == "development":
            return
        key = self.auth.secret_key.get_secret_value()
        if key in PLACEHOLDER_SECRETS or len(key) < 32:
            raise ConfigError(
                f"{ENV_PREFIX}AUTH{NESTED_DELIMITER}SECRET_KEY: a placeholder or short secret is "
                f"refused when {ENV_PREFIX}ENV={self.env}; set 32+ random characters, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
            )


def _env_names(model: type[BaseModel], prefix: str) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        env_name = f"{prefix}{name.upper()}"
        names.add(env_name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _env_names(annotation, env_name + NESTED_DELIMITER)
    return names


def known_env_names() -> set[str]:
    """Every ``VIGIL_*`` variable the settings tree reads."""
    return _env_names(Settings, ENV_PREFIX)


def _check_unknown_variables(environ: dict[str, str]) -> None:
    known = known_env_names()
    unknown = sorted(k for k in environ if k.startswith(ENV_PREFIX) and k.upper() not in known)
    # Variables read by tests and tools rather than by a Vigil process.
    unknown = [k for k in unknown if not k.startswith(f"{ENV_PREFIX}TEST_")]
    if not unknown:
        return
    lines = []
    for name in unknown:
        close = difflib.get_close_matches(name.upper(), known, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        lines.append(f"{name}: unknown setting{hint}")
    raise ConfigError("\n".join(lines) + "\n(`vigil config show` lists every setting)")


def _describe_validation_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        name = ENV_PREFIX + NESTED_DELIMITER.join(part.upper() for part in location)
        got = item.get("input")
        got_text = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{name}: {item['msg']}{got_text}")
    return "\n".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment, ``.env`` and ``overrides``.

    Raises ConfigError naming every variable that is unknown or holds a value that is not allowed.
    """
    _check_unknown_variables(dict(os.environ))
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc)) from None
    settings.check_secrets()
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded once by the entry point."""
    return load_settings()


def masked(settings: Settings) -> dict[str, Any]:
    """The settings as plain data with every secret replaced by ``**********``."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    for path in _secret_paths(Settings):
        node = data
        for part in path[:-1]:
            node = node[part]
        if node.get(path[-1]) is not None:
            node[path[-1]] = "**********"
    for key in ("database_url", "bus_url"):
        if data.get(key):
            data[key] = mask_url_password(data[key])
    return data


def _secret_paths(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths += _secret_paths(annotation, (*prefix, name))
        elif "SecretStr" in str(annotation):
            paths.append((*prefix, name))
    return paths


def mask_url_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{':**********' if colon else ''}@{host}"


def describe_fields(
    model: type[BaseModel] = Settings, prefix: str = ENV_PREFIX
) -> list[tuple[str, str]]:
    """(variable name, description) for every leaf setting, in declaration order."""
    rows: list[tuple[str, str]] = []
    for name, field in model.model_fields.items():
        env_name = f"{prefix}{name.upper()}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += describe_fields(annotation, env_name + NESTED_DELIMITER)
        else:
            rows.append((env_name, field.description or ""))
    return rows
