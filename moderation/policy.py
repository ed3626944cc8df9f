"""The policy engine: versioned YAML rules over a check's signals, global and per country.

A policy is a YAML file (``moderation/policies/default.yaml`` unless
``VIGIL_MODERATION__POLICY_FILE`` names another) plus the ``policy:`` block of each country file
in ``localization/regions/<CC>.yaml``. docs/policy.md is the guide for policy authors; this
docstring is the precise contract.

Rules
    Each rule has ``id``, ``description``, ``mode`` (``live``: acted on; ``shadow``: evaluated and
    recorded, never acted on; ``off``: not evaluated), ``when`` (a condition, below), ``then``
    (an action) and optionally ``params`` (named constants the condition uses, which a country
    may change: the thresholds).

Conditions
    A Python-like expression parsed with :mod:`ast` and checked against a whitelist before it
    becomes a chain of closures; nothing is ever passed to ``eval``. Allowed: ``and or not``,
    comparisons (``< <= > >= == != in not in``, chained: ``0.5 <= scores.insult < 0.8``),
    numbers, strings, ``True``/``False``, lists of constants, the signal names
    (``subject_type region language account_age_days prior_strikes terms hash_banks``),
    ``scores.<attribute>``, ``counts.<key>`` (``COUNT_KEYS``), the rule's params and four functions:
    ``any_term(list...)``, ``matched(bank...)`` (no argument: any), ``count(kind, window)`` and
    ``max_score(attribute...)``. Types are checked when the policy loads (a number is never
    compared with a string, a score with a value outside 0..1, a language with anything but an
    ISO 639-1 code). A value the pipeline did not have (no score for that attribute, unknown
    region, unknown account age) makes every comparison that reads it false; counts that are
    absent are 0. Expressions are limited to 2,000 characters and 300 syntax nodes.

Actions (``then``), from most to least severe: the ``outcome`` of an evaluation is the most
    severe live action, ``publish`` when no live rule held.

    ==================  =======  =========================================================
    remove              5        taken down everywhere
    block               4        withheld in ``countries`` (legal blocks)
    hold                3        withheld until a human decides, in ``queue`` at ``priority``
    age_restrict        2        shown only to viewers old enough in their country
    limit_distribution  1        stays up, left out of recommendations
    publish             0        explicitly fine (never overrides another action)
    ==================  =======  =========================================================

    Every action but ``publish`` names a ``reason_code`` from :mod:`moderation.taxonomy`.
    ``queue`` may use the placeholders ``{language}``, ``{region}``, ``{review_language}`` and
    ``{subject_type}``; ``priority`` is 0..100, higher first (default 50).

Countries
    The region of a piece of content is its author's country (``Signals.region``). A country's
    ``policy:`` block may hold:

    * ``overrides: {rule_id: {mode, params, when, then}}``: for content from that country the
      global rule runs with these changes. ``params`` and ``then`` are merged key by key over the
      global rule's (a ``then`` that names another ``action`` replaces the global ``then``, keeping
      its ``reason_code`` unless given); ``when`` and ``mode`` replace. ``mode: off`` turns the
      rule off for that country's content. An override may not move a block to other countries.
    * ``rules: [...]``: rules of that country. ``scope: authors`` (the default) runs them only on
      content from that country, with any action but a block outside it. ``scope: viewers``
      runs them on all content, and their action must be ``block`` in that country alone (a
      country's law decides what is shown there, not elsewhere).

    Content from a country without a policy block, or of unknown region, runs the global rules as
    written plus every ``scope: viewers`` rule. Rule ids are unique across the global file and all
    countries. Several live actions can act at once (a hold everywhere and a block in DE);
    ``Evaluation.actions`` lists them all, most severe first, then by priority.

Version
    ``<declared version>+<sha256[:12]>`` where the declared ``version:`` comes from the global file
    and the hash covers the validated content of the global rules and of every country's policy
    block (not comments or formatting): changing a threshold in ``ES.yaml`` changes the version,
    and every check, rule hit and decision records the version it ran under.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import operator
import re
import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from core.errors import InvalidInputError

from .taxonomy import REPORT_REASONS

# --- the vocabulary ----------------------------------------------------------------------------

#: Attributes a score may have (the classifiers' ATTRIBUTES).
SCORE_ATTRIBUTES: tuple[str, ...] = (
    "toxicity",
    "severe_toxicity",
    "identity_attack",
    "insult",
    "profanity",
    "threat",
)
SUBJECT_TYPES: tuple[str, ...] = ("comment", "video", "caption")
#: The counts over time windows the pipeline fills in ``Signals.counts`` (``<kind>_<window>``):
#: user reports on the subject, comments by its author. Only these may be named, so a rule never
#: reads a count nobody computes (which would silently be 0); add a key here when the pipeline
#: computes a new one.
COUNT_KEYS: tuple[str, ...] = ("reports_1h", "reports_24h", "author_comments_1h")
COUNT_KINDS: tuple[str, ...] = tuple(dict.fromkeys(k.rsplit("_", 1)[0] for k in COUNT_KEYS))
COUNT_WINDOWS: tuple[str, ...] = tuple(dict.fromkeys(k.rsplit("_", 1)[1] for k in COUNT_KEYS))

MODES: tuple[str, ...] = ("live", "shadow", "off")
#: Higher is more severe; the outcome of an evaluation is the most severe live action.
SEVERITY: dict[str, int] = {
    "remove": 5,
    "block": 4,
    "hold": 3,
    "age_restrict": 2,
    "limit_distribution": 1,
    "publish": 0,
}
ACTIONS: tuple[str, ...] = tuple(SEVERITY)
#: The parameters each action takes besides ``action`` and ``reason_code``.
ACTION_PARAMS: dict[str, tuple[str, ...]] = {
    "remove": (),
    "block": ("countries",),
    "hold": ("queue", "priority"),
    "age_restrict": (),
    "limit_distribution": (),
    "publish": (),
}
QUEUE_PLACEHOLDERS: tuple[str, ...] = ("language", "region", "review_language", "subject_type")
DEFAULT_PRIORITY = 50

MAX_EXPRESSION_CHARS = 2000
MAX_EXPRESSION_NODES = 300
MAX_EXPRESSION_DEPTH = 40

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "policies" / "default.yaml"

_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")
_QUEUE_TEXT = re.compile(r"^[A-Za-z0-9_.-]*$")
_LIST_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_LANGUAGE = re.compile(r"^(?:[a-z]{2}|und)$")
_PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DECLARED_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


class PolicyError(InvalidInputError):
    """A policy file that cannot be loaded; ``details`` name the file, line, rule and field."""

    code = "invalid_policy"


# --- signals and results ----------------------------------------------------------------------


@dataclass(frozen=True)
class Signals:
    """Everything a rule may look at; stored as JSON in ``moderation_checks.signals`` so a backtest
    sees exactly what the policy saw."""

    subject_type: str
    region: str | None
    language: str
    scores: Mapping[str, float] = field(default_factory=dict)
    terms: tuple[str, ...] = ()
    hash_banks: tuple[str, ...] = ()
    account_age_days: float | None = None
    prior_strikes: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.region is not None and not self.region.isupper():
            object.__setattr__(self, "region", self.region.upper())

    def to_json(self) -> dict[str, Any]:
        return {
            "subject_type": self.subject_type,
            "region": self.region,
            "language": self.language,
            "scores": dict(self.scores),
            "terms": list(self.terms),
            "hash_banks": list(self.hash_banks),
            "account_age_days": self.account_age_days,
            "prior_strikes": self.prior_strikes,
            "counts": dict(self.counts),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Signals:
        """The inverse of :meth:`to_json`; absent keys take their defaults (older checks)."""
        age = data.get("account_age_days")
        return cls(
            subject_type=str(data.get("subject_type") or "comment"),
            region=data.get("region") or None,
            language=str(data.get("language") or "und"),
            scores={str(k): float(v) for k, v in (data.get("scores") or {}).items()},
            terms=tuple(data.get("terms") or ()),
            hash_banks=tuple(data.get("hash_banks") or ()),
            account_age_days=None if age is None else float(age),
            prior_strikes=int(data.get("prior_strikes") or 0),
            counts={str(k): int(v) for k, v in (data.get("counts") or {}).items()},
        )


@dataclass(frozen=True)
class RuleResult:
    """A rule whose condition held: what it would do, and under which policy version."""

    rule_id: str
    mode: str  # live | shadow
    action: str
    queue: str | None
    priority: int | None
    countries: tuple[str, ...]  # block only; () means everywhere
    reason_code: str
    policy_version: str = ""
    #: The country whose policy block added or changed this rule; None: the global rule as written.
    override: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "mode": self.mode,
            "action": self.action,
            "queue": self.queue,
            "priority": self.priority,
            "countries": list(self.countries),
            "reason_code": self.reason_code,
            "policy_version": self.policy_version,
            "override": self.override,
        }


@dataclass(frozen=True)
class Evaluation:
    """What the policy decided about one set of signals."""

    policy_version: str
    hits: tuple[RuleResult, ...]  # every rule whose condition held, live and shadow, rule order
    actions: tuple[RuleResult, ...]  # the live hits, most severe first, then highest priority
    outcome: str  # the most severe live action; "publish" when none

    @property
    def rule_ids(self) -> tuple[str, ...]:
        """The live rules that acted (what a decision records)."""
        return tuple(hit.rule_id for hit in self.actions)

    @property
    def shadow_hits(self) -> tuple[RuleResult, ...]:
        return tuple(hit for hit in self.hits if hit.mode == "shadow")

    def to_json(self) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version,
            "outcome": self.outcome,
            "hits": [hit.to_json() for hit in self.hits],
            "actions": [hit.rule_id for hit in self.actions],
        }


# --- rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionSpec:
    """A rule's ``then``, validated."""

    action: str
    reason_code: str
    queue: str | None = None  # hold; may hold {placeholders}
    priority: int | None = None  # hold
    countries: tuple[str, ...] = ()  # block

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"action": self.action}
        if self.reason_code:
            data["reason_code"] = self.reason_code
        if self.action == "hold":
            data["queue"] = self.queue
            data["priority"] = self.priority
        if self.action == "block":
            data["countries"] = list(self.countries)
        return data


@dataclass(frozen=True)
class Rule:
    """One rule as it runs: for a country's override this is the changed copy of the global rule."""

    id: str
    description: str
    mode: str
    when: str
    then: ActionSpec
    params: Mapping[str, Any] = field(default_factory=dict)
    #: None: a global rule; "ES": a rule of (or overridden for) Spain.
    country: str | None = None
    #: global | authors (content from ``country``) | viewers (all content; blocks in ``country``)
    scope: str = "global"
    overridden: bool = False
    source: str = ""
    line: int | None = None
    test: Callable[[Signals], bool] = field(
        default=lambda _s: False, repr=False, compare=False, hash=False
    )
    term_lists: frozenset[str] = frozenset()
    banks: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "description": self.description,
            "mode": self.mode,
            "when": self.when,
            "then": self.then.to_json(),
        }
        if self.params:
            data["params"] = dict(self.params)
        if self.scope != "global":
            data["scope"] = self.scope
        return data


class _Compiled:
    """A rule ready to run: its test, and its results made once (per queue, when the queue has
    placeholders): a hit costs a dictionary lookup, not a new object."""

    __slots__ = ("fixed", "results", "rule", "test", "version")

    #: Distinct (language, region, subject type) results kept per rule; beyond it, made afresh.
    MAX_CACHED = 4096

    def __init__(self, rule: Rule, version: str) -> None:
        self.rule = rule
        self.test = rule.test
        self.version = version
        spec = rule.then
        self.fixed: RuleResult | None = None
        self.results: dict[tuple[str, str | None, str], RuleResult] = {}
        if spec.queue is None or "{" not in spec.queue:
            self.fixed = self.make(spec.queue)

    def make(self, queue: str | None) -> RuleResult:
        rule, spec = self.rule, self.rule.then
        return RuleResult(
            rule_id=rule.id,
            mode=rule.mode,
            action=spec.action,
            queue=queue,
            priority=spec.priority,
            countries=spec.countries,
            reason_code=spec.reason_code,
            policy_version=self.version,
            override=rule.country if (rule.overridden or rule.scope != "global") else None,
        )

    def result_for(self, signals: Signals, regions: Mapping[str, Any]) -> RuleResult:
        key = (signals.language, signals.region, signals.subject_type)
        result = self.results.get(key)
        if result is None:
            result = self.make(_fill_queue(self.rule.then.queue or "", signals, regions))
            if len(self.results) < self.MAX_CACHED:
                self.results[key] = result
        return result


def _fill_queue(template: str, signals: Signals, regions: Mapping[str, Any]) -> str:
    region = regions.get(signals.region) if signals.region else None
    review = getattr(region, "review_language", None) or signals.language
    return template.format_map(
        {
            "language": signals.language,
            "region": signals.region or "unknown",
            "review_language": review,
            "subject_type": signals.subject_type,
        }
    )


def _sort_key(result: RuleResult) -> tuple[int, int]:
    return (-SEVERITY[result.action], -(result.priority or 0))


class Policy:
    """A loaded, validated policy: global rules, each country's changes, and the version."""

    def __init__(
        self,
        *,
        declared_version: str,
        description: str,
        rules: Sequence[Rule],
        regional: Mapping[str, Sequence[Rule]],
        digest: str,
        source: str,
        regions: Mapping[str, Any] | None = None,
    ) -> None:
        self.declared_version = declared_version
        self.description = description
        self.version = f"{declared_version}+{digest}"
        self.source = source
        self.rules: tuple[Rule, ...] = tuple(rules)
        #: country -> the rules that country's block added or changed (its overrides, its rules)
        self.regional: dict[str, tuple[Rule, ...]] = {c: tuple(r) for c, r in regional.items()}
        self._regions = dict(regions or {})
        viewers = [r for rs in self.regional.values() for r in rs if r.scope == "viewers"]
        self._default = self._compile(self.rules, viewers)
        self._by_region: dict[str, tuple[_Compiled, ...]] = {}
        for country, changed in self.regional.items():
            replaced = {r.id: r for r in changed if r.overridden}
            own = [r for r in changed if r.scope == "authors"]
            effective = [replaced.get(r.id, r) for r in self.rules]
            others = [r for r in viewers if r.country != country]
            mine = [r for r in changed if r.scope == "viewers"]
            self._by_region[country] = self._compile(effective + own + mine, others)
        # What evaluate() walks: (test, rule) pairs, and the one answer when nothing holds.
        self._default_tests = tuple((c.test, c) for c in self._default)
        self._tests_by_region: dict[str | None, tuple[tuple[Any, _Compiled], ...]] = {
            country: tuple((c.test, c) for c in compiled)
            for country, compiled in self._by_region.items()
        }
        self._nothing = Evaluation(self.version, (), (), "publish")

    def _compile(self, rules: Iterable[Rule], extra: Iterable[Rule]) -> tuple[_Compiled, ...]:
        return tuple(_Compiled(r, self.version) for r in (*rules, *extra) if r.mode != "off")

    def rules_for(self, region: str | None) -> tuple[Rule, ...]:
        """The rules that run on content from ``region`` (off rules left out), in order."""
        compiled = self._by_region.get(region.upper(), self._default) if region else self._default
        return tuple(c.rule for c in compiled)

    def rule(self, rule_id: str) -> Rule:
        """The global rule, or a country's own rule, with this id."""
        for rule in self.all_rules():
            if rule.id == rule_id and not rule.overridden:
                return rule
        raise KeyError(rule_id)

    def all_rules(self) -> tuple[Rule, ...]:
        """Global rules, then each country's overrides and rules (country order)."""
        return self.rules + tuple(r for c in sorted(self.regional) for r in self.regional[c])

    @property
    def term_lists(self) -> frozenset[str]:
        """Watched-term lists the rules name (``any_term``); the pipeline must match them."""
        return frozenset().union(*(r.term_lists for r in self.all_rules()))

    @property
    def viewer_term_lists(self) -> frozenset[str]:
        """Term lists named by ``scope: viewers`` rules: to match on content from every region."""
        return frozenset().union(*(r.term_lists for r in self.all_rules() if r.scope == "viewers"))

    def evaluate(self, signals: Signals) -> Evaluation:
        """Run the rules that apply to ``signals.region`` (cheap: closures, no parsing)."""
        region = signals.region
        tests = self._tests_by_region.get(region, self._default_tests)
        hits = [
            item.fixed or item.result_for(signals, self._regions)
            for test, item in tests
            if test(signals)
        ]
        if not hits:
            return self._nothing
        live = [h for h in hits if h.mode == "live"]
        if len(live) > 1:
            live.sort(key=_sort_key)
        return Evaluation(
            self.version, tuple(hits), tuple(live), live[0].action if live else "publish"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "declared_version": self.declared_version,
            "source": self.source,
            "description": self.description,
            "rules": [r.to_json() for r in self.rules],
            "regions": {
                country: {
                    "overrides": {
                        r.id: {"mode": r.mode, **r.to_json()} for r in rules if r.overridden
                    },
                    "rules": [r.to_json() for r in rules if not r.overridden],
                }
                for country, rules in sorted(self.regional.items())
            },
        }


# --- loading ----------------------------------------------------------------------------------


def load_policy(
    path: Path | None = None,
    regions: Mapping[str, Any] | None = None,
    *,
    regions_dir: Path | None = None,
    term_lists: Iterable[str] | None = None,
) -> Policy:
    """Load and validate the global policy file and the countries' ``policy:`` blocks.

    ``path`` None is the shipped ``moderation/policies/default.yaml``. ``regions`` maps country
    codes to ``localization.Region`` objects; None loads them from ``regions_dir`` (None: the
    shipped ``localization/regions``). A country's block is read again from the region's source
    file when it has one, so errors name the line in that file. ``term_lists``, when given, is
    every watched-term list name that exists: a rule naming another is an error.
    """
    path = Path(path) if path is not None else DEFAULT_POLICY_FILE
    document = _read_yaml(path)
    if regions is None:
        import localization

        regions = localization.load_regions(regions_dir)
    blocks: dict[str, tuple[Any, str]] = {}
    for country, region in regions.items():
        code = country.upper()
        raw: Any = getattr(region, "policy", None)
        if not raw:
            continue
        label = f"region {code} policy"
        source = getattr(region, "source", None)
        if source and Path(source).is_file():
            data = _read_yaml(Path(source))
            if isinstance(data, dict) and data.get("policy"):
                raw, label = data["policy"], str(source)
        blocks[code] = (raw, label)
    return _build_policy(document, str(path), blocks, regions, term_lists, draft=False)


def load_rules(path: Path, *, term_lists: Iterable[str] | None = None) -> Policy:
    """Load a draft rule file (the global format; ``version`` optional) on its own, without the
    countries' blocks: what ``vigil policy backtest`` runs."""
    document = _read_yaml(Path(path))
    return _build_policy(document, str(path), {}, {}, term_lists, draft=True)


def is_draft_file(path: Path) -> bool:
    """Whether ``path`` is a draft rule file (no ``version``) rather than a whole policy."""
    document = _read_yaml(Path(path))
    return not (isinstance(document, dict) and "version" in document)


def parse_policy(
    text: str,
    *,
    source: str = "<policy>",
    region_policies: Mapping[str, Any] | None = None,
    regions: Mapping[str, Any] | None = None,
    draft: bool = False,
) -> Policy:
    """A policy from YAML text and raw ``policy:`` blocks per country (tests, the API)."""
    document = _parse_yaml(text, source)
    blocks = {
        c.upper(): (raw, f"region {c.upper()} policy")
        for c, raw in (region_policies or {}).items()
        if raw
    }
    return _build_policy(document, source, blocks, regions or {}, None, draft=draft)


# YAML with line numbers, no duplicate keys, and only true/false as booleans: YAML 1.1 reads
# ``mode: off`` as False and Norway's ``NO`` as False, which would make for baffling errors.


class _Map(dict):  # type: ignore[type-arg]
    line: int = 0
    key_lines: dict[Any, int]
    source_lines: Sequence[str] | None = None  # the file's lines, to place errors in it


class _Seq(list):  # type: ignore[type-arg]
    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    pass


_LineLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _value_line(node: yaml.Node) -> int:
    line = int(node.start_mark.line) + 1
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        line += 1  # the text starts under the indicator
    return line


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> _Map:
    loader.flatten_mapping(node)
    result = _Map()
    result.line = int(node.start_mark.line) + 1
    result.key_lines = {}
    result.source_lines = getattr(loader, "source_lines", None)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str | int | float | bool) or key is None:
            raise _yaml_error(loader.name, key_node, "keys must be plain words")
        if key in result:
            raise _yaml_error(loader.name, key_node, f"{key!r} appears twice in the same mapping")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = _value_line(value_node)
    return result


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> _Seq:
    result = _Seq(loader.construct_object(child, deep=True) for child in node.value)
    result.line = int(node.start_mark.line) + 1
    result.item_lines = [_value_line(child) for child in node.value]
    return result


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _yaml_error(source: str, node: yaml.Node, problem: str) -> PolicyError:
    line = int(node.start_mark.line) + 1
    return PolicyError(
        f"{source}:{line}: {problem}", details={"file": source, "line": line, "problem": problem}
    )


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(
            f"policy file {path} does not exist; set VIGIL_MODERATION__POLICY_FILE to a policy "
            "file, or leave it empty for the shipped moderation/policies/default.yaml",
            details={"file": str(path), "problem": "missing file"},
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(
            f"cannot read policy file {path}: {exc}", details={"file": str(path)}
        ) from exc
    return _parse_yaml(text, str(path))


def _parse_yaml(text: str, source: str) -> Any:
    try:
        loader = _LineLoader(text)
        loader.name = source
        loader.source_lines = text.splitlines()  # type: ignore[attr-defined]
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        problem = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        where = f"{source}:{line}" if line else source
        raise PolicyError(
            f"{where}: not valid YAML: {problem}",
            details={"file": source, "line": line, "problem": f"not valid YAML: {problem}"},
        ) from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}", details={"file": source}) from None


# --- validation -------------------------------------------------------------------------------


class _Where:
    """Where a value came from, for error messages: file, line, rule, field."""

    def __init__(self, source: str, rule_id: str | None = None) -> None:
        self.source = source
        self.rule_id = rule_id

    def line_of(self, container: Any, key: Any = None) -> int | None:
        if isinstance(container, _Map):
            if key is not None and key in container.key_lines:
                return container.key_lines[key]
            return container.line
        if isinstance(container, _Seq):
            if isinstance(key, int) and 0 <= key < len(container.item_lines):
                return container.item_lines[key]
            return container.line
        return None

    def fail(
        self,
        problem: str,
        *,
        container: Any = None,
        key: Any = None,
        line: int | None = None,
        field_name: str | None = None,
        expected: str | None = None,
        excerpt: str | None = None,
        column: int | None = None,
    ) -> PolicyError:
        if line is None and container is not None:
            line = self.line_of(container, key)
        where = f"{self.source}:{line}" if line else self.source
        parts = [where]
        if self.rule_id:
            parts.append(f"rule {self.rule_id!r}")
        if field_name:
            parts.append(field_name)
        message = ": ".join(parts) + f": {problem}"
        if excerpt is not None:
            message += "\n" + excerpt
        if expected:
            message += f"\nexpected: {expected}"
        details: dict[str, Any] = {"file": self.source, "line": line, "problem": problem}
        if self.rule_id:
            details["rule_id"] = self.rule_id
        if field_name:
            details["field"] = field_name
        if expected:
            details["expected"] = expected
        if column is not None:
            details["column"] = column
        return PolicyError(message, details=details)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_keys(
    where: _Where, mapping: Mapping[str, Any], allowed: Sequence[str], what: str
) -> None:
    for key in mapping:
        if key not in allowed:
            raise where.fail(
                f"unknown key {key!r} in {what}{_suggest(str(key), allowed)}",
                container=mapping,
                key=key,
                expected=", ".join(allowed),
            )


def _build_policy(
    document: Any,
    source: str,
    blocks: Mapping[str, tuple[Any, str]],
    regions: Mapping[str, Any],
    term_lists: Iterable[str] | None,
    *,
    draft: bool,
) -> Policy:
    where = _Where(source)
    if not isinstance(document, dict):
        raise where.fail(
            "a policy file is a mapping with version and rules",
            expected="version: 2026.11.1\nrules:\n  - id: ...",
        )
    _check_keys(where, document, ("version", "description", "rules"), "the policy file")
    declared = document.get("version")
    if declared is None:
        if not draft:
            raise where.fail(
                "the policy has no version", container=document, expected='version: "2026.11.1"'
            )
        declared = "draft"
    declared = str(declared)
    if not _DECLARED_VERSION.match(declared):
        raise where.fail(
            f"version {declared!r} is not a version",
            container=document,
            key="version",
            expected="letters, digits, '.', '-' or '_', at most 40, e.g. 2026.11.1",
        )
    description = document.get("description") or ""
    if not isinstance(description, str):
        raise where.fail("description must be text", container=document, key="description")
    raw_rules = document.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise where.fail(
            "rules must be a non-empty list of rules",
            container=document,
            key="rules" if "rules" in document else None,
            expected="rules:\n  - id: toxicity-hold\n    ...",
        )
    known_lists = None if term_lists is None else frozenset(term_lists)
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for index, raw in enumerate(raw_rules):
        rule = _parse_rule(raw, _Where(source), raw_rules, index, None, known_lists)
        if rule.id in seen:
            raise _Where(source, rule.id).fail(
                f"rule id {rule.id!r} is used twice", container=raw_rules, key=index
            )
        seen[rule.id] = source
        rules.append(rule)
    regional: dict[str, list[Rule]] = {}
    canonical_regions: dict[str, Any] = {}
    globals_by_id = {r.id: r for r in rules}
    for country in sorted(blocks):
        raw_block, block_source = blocks[country]
        changed = _parse_region_block(
            country, raw_block, block_source, globals_by_id, seen, known_lists
        )
        regional[country] = changed
        canonical_regions[country] = [
            {"override" if r.overridden else "rule": r.to_json() | {"mode": r.mode}}
            for r in changed
        ]
    canonical = {
        "version": declared,
        "rules": [r.to_json() for r in rules],
        "regions": canonical_regions,
    }
    digest = hashlib.sha256(
        json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:12]
    return Policy(
        declared_version=declared,
        description=description,
        rules=rules,
        regional=regional,
        digest=digest,
        source=source,
        regions=regions,
    )


_RULE_KEYS = ("id", "description", "mode", "when", "then", "params")
_REGION_RULE_KEYS = (*_RULE_KEYS, "scope")
_OVERRIDE_KEYS = ("mode", "when", "then", "params")


def _parse_rule(
    raw: Any,
    where: _Where,
    parent: Any,
    index: int,
    country: str | None,
    known_lists: frozenset[str] | None,
) -> Rule:
    if not isinstance(raw, dict):
        raise where.fail(
            "each rule is a mapping with id, description, mode, when and then",
            container=parent,
            key=index,
        )
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id):
        raise where.fail(
            f"rule id {rule_id!r} is missing or not an id" if rule_id else "the rule has no id",
            container=raw,
            key="id",
            field_name="id",
            expected="lower-case letters, digits, '-', '_' or '.', at most 128, e.g. toxicity-hold",
        )
    where = _Where(where.source, rule_id)
    _check_keys(where, raw, _REGION_RULE_KEYS if country else _RULE_KEYS, "a rule")
    for required in ("description", "mode", "when", "then"):
        if required not in raw:
            raise where.fail(f"the rule has no {required}", container=raw, field_name=required)
    description = raw["description"]
    if not isinstance(description, str) or not description.strip():
        raise where.fail(
            "description must say what the rule is for",
            container=raw,
            key="description",
            field_name="description",
        )
    mode = _parse_mode(where, raw)
    scope = "global"
    if country:
        scope = raw.get("scope", "authors")
        if scope not in ("authors", "viewers"):
            raise where.fail(
                f"scope {scope!r} is not a scope",
                container=raw,
                key="scope",
                field_name="scope",
                expected="authors (content from this country) or viewers (all content, block here)",
            )
    params = _parse_params(where, raw, None)
    then = _parse_then(where, raw, raw["then"], None, country, scope)
    test, lists, banks = _compile_condition(
        where,
        raw["when"],
        params,
        line=where.line_of(raw, "when"),
        known_lists=known_lists,
        source_lines=getattr(raw, "source_lines", None),
    )
    return Rule(
        id=rule_id,
        description=description.strip(),
        mode=mode,
        when=str(raw["when"]).strip(),
        then=then,
        params=params,
        country=country,
        scope=scope,
        source=where.source,
        line=where.line_of(raw),
        test=test,
        term_lists=lists,
        banks=banks,
    )


def _parse_mode(where: _Where, raw: Mapping[str, Any]) -> str:
    mode = raw["mode"]
    if mode is False:  # YAML 1.1 ``off`` from a loader other than ours
        mode = "off"
    if mode not in MODES:
        raise where.fail(
            f"mode {mode!r} is not a mode{_suggest(str(mode), MODES)}",
            container=raw,
            key="mode",
            field_name="mode",
            expected="live, shadow or off",
        )
    return str(mode)


def _parse_params(
    where: _Where, raw: Mapping[str, Any], base: Mapping[str, Any] | None
) -> dict[str, Any]:
    given = raw.get("params", {})
    if not isinstance(given, dict):
        raise where.fail(
            "params must be a mapping of names to values",
            container=raw,
            key="params",
            field_name="params",
            expected="params: {threshold: 0.8}",
        )
    params = dict(base or {})
    for name, value in given.items():
        if not isinstance(name, str) or not _PARAM_NAME.match(name):
            raise where.fail(
                f"param name {name!r} is not a name",
                container=given,
                key=name,
                field_name="params",
                expected="lower-case letters, digits and '_', starting with a letter",
            )
        if name in _NAMES or name in _FUNCTIONS or name in ("scores", "counts"):
            raise where.fail(
                f"param {name!r} has the name of a signal or function",
                container=given,
                key=name,
                field_name="params",
            )
        kind = _value_type(value)
        if kind is None:
            raise where.fail(
                f"param {name} = {value!r}: a param is a number, a text or a list of either",
                container=given,
                key=name,
                field_name=f"params.{name}",
            )
        if base is not None:
            if name not in base:
                raise where.fail(
                    f"param {name!r} is not a param of this rule{_suggest(name, base)}",
                    container=given,
                    key=name,
                    field_name="params",
                    expected=", ".join(base) or "(the rule has no params)",
                )
            if _value_type(base[name]) != kind:
                raise where.fail(
                    f"param {name} is a {_value_type(base[name])} in the global rule, not a {kind}",
                    container=given,
                    key=name,
                    field_name=f"params.{name}",
                )
        params[name] = tuple(value) if isinstance(value, list) else value
    return params


def _value_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple) and value:
        kinds = {_value_type(v) for v in value}
        if kinds == {"string"}:
            return "strings"
        if kinds == {"number"}:
            return "numbers"
    return None


def _parse_then(
    where: _Where,
    rule: Mapping[str, Any],
    raw: Any,
    base: ActionSpec | None,
    country: str | None,
    scope: str,
) -> ActionSpec:
    field_name = "then"
    if isinstance(raw, str) and base is None:
        raw_map: dict[str, Any] = {"action": raw}
    elif isinstance(raw, dict):
        raw_map = raw
    else:
        raise where.fail(
            "then must be a mapping with action, reason_code and the action's params",
            container=rule,
            key="then",
            field_name=field_name,
            expected="then: {action: hold, queue: toxicity-{language}, priority: 50, "
            "reason_code: harassment}",
        )
    allowed = ("action", "reason_code", *sorted({p for ps in ACTION_PARAMS.values() for p in ps}))
    _check_keys(where, raw_map, allowed, "then")
    if base is not None:
        if "countries" in raw_map and [c for c in raw_map["countries"] or []] != [country]:
            raise where.fail(
                f"an override for {country} cannot block in other countries",
                container=raw_map,
                key="countries",
                field_name="then.countries",
                expected=f"countries: [{country}] or leave countries out",
            )
        if "action" in raw_map and raw_map["action"] != base.action:
            merged: dict[str, Any] = {"reason_code": base.reason_code}
        else:
            merged = base.to_json()
        merged.update(raw_map)
        raw_map = merged
    action = raw_map.get("action")
    if action not in ACTIONS:
        raise where.fail(
            f"action {action!r} is not an action{_suggest(str(action), ACTIONS)}"
            if action is not None
            else "then has no action",
            container=raw_map,
            key="action",
            field_name="then.action",
            expected=", ".join(ACTIONS),
        )
    for key in raw_map:
        if key not in ("action", "reason_code") and key not in ACTION_PARAMS[action]:
            takes = ", ".join(ACTION_PARAMS[action]) or "no params"
            raise where.fail(
                f"{action} takes {takes}, not {key!r}" + _suggest(str(key), ACTION_PARAMS[action]),
                container=raw_map,
                key=key,
                field_name=f"then.{key}",
                expected=f"{action}: reason_code" + (f", {takes}" if ACTION_PARAMS[action] else ""),
            )
    reason = raw_map.get("reason_code")
    if reason is None and action != "publish":
        raise where.fail(
            f"{action} needs a reason_code",
            container=raw_map,
            field_name="then.reason_code",
            expected=", ".join(REPORT_REASONS),
        )
    if reason is not None and reason not in REPORT_REASONS:
        raise where.fail(
            f"reason_code {reason!r} is not in the taxonomy{_suggest(str(reason), REPORT_REASONS)}",
            container=raw_map,
            key="reason_code",
            field_name="then.reason_code",
            expected=", ".join(REPORT_REASONS),
        )
    queue: str | None = None
    priority: int | None = None
    countries: tuple[str, ...] = ()
    if action == "hold":
        queue = raw_map.get("queue")
        if not isinstance(queue, str) or not queue:
            raise where.fail(
                "hold needs a queue",
                container=raw_map,
                key="queue",
                field_name="then.queue",
                expected="queue: toxicity-{language} (placeholders: "
                + ", ".join("{" + p + "}" for p in QUEUE_PLACEHOLDERS)
                + ")",
            )
        _check_queue(where, raw_map, queue)
        priority = raw_map.get("priority", DEFAULT_PRIORITY)
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 100:
            raise where.fail(
                f"priority {priority!r} is not a whole number from 0 to 100",
                container=raw_map,
                key="priority",
                field_name="then.priority",
                expected="0..100, higher is reviewed first",
            )
    if action == "block":
        raw_countries = raw_map.get("countries")
        if raw_countries is None and country:
            raw_countries = [country]
        countries = _parse_countries(where, raw_map, raw_countries)
        if country and countries != (country,) and (base is None or "countries" in raw):
            raise where.fail(
                f"a rule of {country} can only block in {country}",
                container=raw_map,
                key="countries",
                field_name="then.countries",
                expected=f"countries: [{country}]",
            )
    if scope == "viewers" and action != "block":
        raise where.fail(
            f"a scope: viewers rule runs on content from everywhere, so it may only block in "
            f"{country}, not {action}",
            container=raw_map,
            key="action",
            field_name="then.action",
            expected=f"action: block, countries: [{country}]",
        )
    return ActionSpec(
        action=action,
        reason_code=reason or "",
        queue=queue,
        priority=priority,
        countries=countries,
    )


def _check_queue(where: _Where, raw_map: Mapping[str, Any], queue: str) -> None:
    problem = None
    try:
        pieces = list(string.Formatter().parse(queue))
    except ValueError as exc:
        pieces, problem = [], f"queue {queue!r}: {exc}"
    for text, name, spec, conversion in pieces:
        if not _QUEUE_TEXT.match(text):
            problem = f"queue {queue!r} has characters other than letters, digits, '-', '_', '.'"
        elif name is not None and (name not in QUEUE_PLACEHOLDERS or spec or conversion):
            problem = f"queue {queue!r}: unknown placeholder {{{name}}}" + _suggest(
                name, QUEUE_PLACEHOLDERS
            )
    if len(queue) > 48:
        problem = f"queue {queue!r} is longer than 48 characters"
    if problem:
        raise where.fail(
            problem,
            container=raw_map,
            key="queue",
            field_name="then.queue",
            expected="letters, digits, '-', '_', '.' and the placeholders "
            + ", ".join("{" + p + "}" for p in QUEUE_PLACEHOLDERS),
        )


def _parse_countries(where: _Where, raw_map: Mapping[str, Any], raw: Any) -> tuple[str, ...]:
    from localization import is_country

    if not isinstance(raw, list) or not raw:
        raise where.fail(
            "block needs countries, a list of ISO 3166-1 codes",
            container=raw_map,
            key="countries",
            field_name="then.countries",
            expected="countries: [DE, AT]",
        )
    for code in raw:
        if not isinstance(code, str) or not is_country(code):
            raise where.fail(
                f"{code!r} is not an ISO 3166-1 alpha-2 country code",
                container=raw_map,
                key="countries",
                field_name="then.countries",
                expected="upper-case codes such as DE, FR, ES",
            )
    return tuple(dict.fromkeys(raw))


def _parse_region_block(
    country: str,
    raw: Any,
    source: str,
    globals_by_id: Mapping[str, Rule],
    seen: dict[str, str],
    known_lists: frozenset[str] | None,
) -> list[Rule]:
    where = _Where(source)
    if isinstance(raw, Mapping) and not isinstance(raw, dict):
        raw = dict(raw)  # a Region's read-only view
    if not isinstance(raw, dict):
        raise where.fail(
            f"the policy block of {country} must be a mapping with overrides and/or rules",
            expected="policy:\n  overrides: {toxicity-hold: {params: {threshold: 0.7}}}\n"
            "  rules: [...]",
        )
    _check_keys(where, raw, ("overrides", "rules"), f"the policy block of {country}")
    changed: list[Rule] = []
    overrides = raw.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise where.fail(
            "overrides must map global rule ids to changes", container=raw, key="overrides"
        )
    for rule_id, change in overrides.items():
        base = globals_by_id.get(rule_id)
        if base is None:
            raise where.fail(
                f"override of {rule_id!r}: no global rule has that id"
                + _suggest(str(rule_id), globals_by_id),
                container=overrides,
                key=rule_id,
                expected=", ".join(globals_by_id),
            )
        changed.append(_parse_override(_Where(source, rule_id), country, base, change, known_lists))
    own = raw.get("rules") or []
    if not isinstance(own, list):
        raise where.fail("rules must be a list of rules", container=raw, key="rules")
    for index, item in enumerate(own):
        rule = _parse_rule(item, where, own, index, country, known_lists)
        if rule.id in seen:
            raise _Where(source, rule.id).fail(
                f"rule id {rule.id!r} is already used in {seen[rule.id]}; rule ids are unique "
                "across the global policy and every country",
                container=own,
                key=index,
            )
        seen[rule.id] = source
        changed.append(rule)
    return changed


def _parse_override(
    where: _Where,
    country: str,
    base: Rule,
    change: Any,
    known_lists: frozenset[str] | None,
) -> Rule:
    if not isinstance(change, dict) or not change:
        raise where.fail(
            f"the override for {country} must change mode, params, when or then",
            expected="{mode: off} or {params: {threshold: 0.7}} or {then: {queue: es-ES}}",
        )
    _check_keys(where, change, _OVERRIDE_KEYS, "an override")
    mode = _parse_mode(where, change) if "mode" in change else base.mode
    params = _parse_params(where, change, base.params) if "params" in change else dict(base.params)
    then = (
        _parse_then(where, change, change["then"], base.then, country, "global")
        if "then" in change
        else base.then
    )
    when = change.get("when", base.when)
    # A new threshold is checked against the global condition, reported where it was written.
    line = where.line_of(change, "when" if "when" in change else "params")
    test, lists, banks = _compile_condition(
        where,
        when,
        params,
        line=line,
        known_lists=known_lists,
        # a new threshold for the global condition: the line of the params, not within them
        source_lines=getattr(change, "source_lines", None) if "when" in change else None,
    )
    return Rule(
        id=base.id,
        description=base.description,
        mode=mode,
        when=str(when).strip(),
        then=then,
        params=params,
        country=country,
        scope="global",
        overridden=True,
        source=where.source,
        line=where.line_of(change),
        test=test,
        term_lists=lists,
        banks=banks,
    )


# --- the condition language -------------------------------------------------------------------

# A compiled sub-expression: a getter over Signals (or a constant), its type and whether the
# pipeline may not have had the value (None).


@dataclass(frozen=True)
class _Expr:
    type: str  # number | string | bool | strings | numbers
    fn: Callable[[Signals], Any] | None = None  # None: a constant
    const: Any = None
    nullable: bool = False
    domain: str | None = None  # score | language | region | subject_type | term_list | bank
    # what ``fn`` reads, for the fast closures of comparisons with a constant:
    # ("score", attribute) | ("count", key) | ("attr", Signals field)
    source: tuple[str, str] | None = None


def _getter(name: str) -> Callable[[Signals], Any]:
    return operator.attrgetter(name)


_NAMES: dict[str, _Expr] = {
    "subject_type": _Expr(
        "string", _getter("subject_type"), domain="subject_type", source=("attr", "subject_type")
    ),
    "region": _Expr(
        "string", _getter("region"), nullable=True, domain="region", source=("attr", "region")
    ),
    "language": _Expr(
        "string", _getter("language"), domain="language", source=("attr", "language")
    ),
    "account_age_days": _Expr(
        "number", _getter("account_age_days"), nullable=True, source=("attr", "account_age_days")
    ),
    "prior_strikes": _Expr("number", _getter("prior_strikes"), source=("attr", "prior_strikes")),
    "terms": _Expr("strings", _getter("terms"), domain="term_list"),
    "hash_banks": _Expr("strings", _getter("hash_banks"), domain="bank"),
}
_FUNCTIONS: dict[str, str] = {
    "any_term": 'any_term("list", ...): a watched-term list was hit (no argument: any list)',
    "matched": 'matched("bank", ...): the media matched a hash bank (no argument: any bank)',
    "count": 'count("reports", "1h"): a count over a time window, one of '
    + ", ".join(f'count("{k.rsplit("_", 1)[0]}", "{k.rsplit("_", 1)[1]}")' for k in COUNT_KEYS),
    "max_score": 'max_score("toxicity", "insult", ...): the highest of these scores',
}
_VOCABULARY = (
    "signals: "
    + ", ".join([*_NAMES, "scores.<attribute>", *(f"counts.{k}" for k in COUNT_KEYS)])
    + "; functions: "
    + ", ".join(f"{name}(...)" for name in _FUNCTIONS)
)
_GRAMMAR = (
    "comparisons (< <= > >= == != in, not in), and, or, not, numbers, strings, lists of "
    "constants, True/False, " + _VOCABULARY
)
_NOT_ALLOWED = {
    ast.Lambda: "lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a generator expression",
    ast.Subscript: "indexing with [...]",
    ast.BinOp: "arithmetic",
    ast.IfExp: "'x if y else z'",
    ast.NamedExpr: "':='",
    ast.JoinedStr: "an f-string",
    ast.Dict: "a dict",
    ast.Set: "a set (write a list [...])",
    ast.Starred: "'*'",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
_COMPARE_OPS: dict[type, tuple[str, Callable[[Any, Any], bool]]] = {
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
}


class _ConditionCompiler:
    """Checks a parsed condition against the whitelist and turns it into closures."""

    def __init__(
        self,
        where: _Where,
        text: str,
        params: Mapping[str, Any],
        line: int | None,
        known_lists: frozenset[str] | None,
        source_lines: Sequence[str] | None = None,
    ) -> None:
        self.where = where
        self.text = text
        self.params = params
        self.line = line
        self.source_lines = source_lines
        self.known_lists = known_lists
        self.term_lists: set[str] = set()
        self.banks: set[str] = set()

    # errors point at the offending part of the expression with carets
    def fail(self, node: ast.AST | None, problem: str, expected: str | None = None) -> PolicyError:
        column = getattr(node, "col_offset", None) if node is not None else None
        end = getattr(node, "end_col_offset", None) if node is not None else None
        return self._fail_at(column, end, problem, expected)

    def _fail_at(
        self, column: int | None, end: int | None, problem: str, expected: str | None
    ) -> PolicyError:
        flat = self.text
        excerpt = f"    {flat}"
        line = self.line
        if column is not None:
            width = max(1, (end or column + 1) - column)
            excerpt += "\n    " + " " * column + "^" * width
            if line is not None:
                line = self.line_at(line, column)
        return self.where.fail(
            problem,
            line=line,
            field_name="when",
            expected=expected or _GRAMMAR,
            excerpt=excerpt,
            column=column,
        )

    def line_at(self, line: int, column: int) -> int:
        """The file line of ``column`` in a condition that starts on ``line``."""
        if not self.source_lines:
            return line
        if "\n" in self.raw_text:  # a literal block (|) keeps its lines
            return line + self.raw_text[:column].count("\n")
        # YAML folded the condition's lines into one, joined by single spaces: walk the file's
        # lines from the first until their stripped lengths pass the column.
        position = 0
        for offset, text in enumerate(self.source_lines[line - 1 :]):
            piece = text.strip()
            if offset == 0 and ":" in piece and not self.raw_text.startswith(piece):
                # "when: <condition>" on the key's line: the condition follows the key
                piece = piece.split(":", 1)[1].strip()
            if position + len(piece) >= column:
                return line + offset
            position += len(piece) + 1
        return line

    def compile(self, raw: Any) -> Callable[[Signals], bool]:
        if isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str) or not raw.strip():
            self.raw_text = self.text = str(raw)
            raise self._fail_at(
                None,
                None,
                "when must be a condition, written as text",
                "when: scores.toxicity >= 0.8",
            )
        if len(raw) > MAX_EXPRESSION_CHARS:
            self.raw_text = self.text = raw[:80] + "..."
            raise self._fail_at(
                None,
                None,
                f"the condition is {len(raw)} characters long, over the limit of "
                f"{MAX_EXPRESSION_CHARS}",
                "a shorter condition; split it into several rules, or move constants to params",
            )
        # Lines of a multi-line YAML scalar become spaces: offsets stay the same, so carets and
        # line numbers still point at the right place in the file.
        lead = len(raw) - len(raw.lstrip())
        self.raw_text = raw[lead:].rstrip()
        self.text = self.raw_text.replace("\n", " ").replace("\t", " ")
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError as exc:
            column = (exc.offset or 1) - 1
            raise self._fail_at(
                column, column + 1, f"not a valid condition: {exc.msg}", None
            ) from None
        except (RecursionError, MemoryError, ValueError):
            raise self._fail_at(
                None, None, "the condition is nested too deeply", "fewer nested parentheses"
            ) from None
        nodes = sum(1 for _ in ast.walk(tree))
        if nodes > MAX_EXPRESSION_NODES:
            raise self._fail_at(
                None,
                None,
                f"the condition has {nodes} parts, over the limit of {MAX_EXPRESSION_NODES}",
                "a shorter condition; split it into several rules",
            )
        self.depth = 0
        result = self.visit(tree.body)
        if result.type != "bool":
            raise self.fail(
                tree.body,
                f"the condition is a {result.type}, not true/false",
                "a comparison such as scores.toxicity >= 0.8",
            )
        if result.fn is None:
            value = bool(result.const)
            return (lambda _s: True) if value else (lambda _s: False)
        return result.fn

    def visit(self, node: ast.AST) -> _Expr:
        self.depth += 1
        if self.depth > MAX_EXPRESSION_DEPTH:
            raise self.fail(node, "the condition is nested too deeply", "fewer nested parts")
        try:
            method = getattr(self, f"visit_{type(node).__name__}", None)
            if method is None:
                what = _NOT_ALLOWED.get(type(node), type(node).__name__)
                raise self.fail(node, f"{what} is not allowed in a condition")
            result: _Expr = method(node)
            return result
        finally:
            self.depth -= 1

    def visit_Constant(self, node: ast.Constant) -> _Expr:
        value = node.value
        if isinstance(value, bool):
            return _Expr("bool", const=value)
        if isinstance(value, int | float):
            return _Expr("number", const=value)
        if isinstance(value, str):
            return _Expr("string", const=value)
        raise self.fail(node, f"{value!r} is not allowed in a condition")

    def visit_UnaryOp(self, node: ast.UnaryOp) -> _Expr:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            self.expect(node.operand, operand, "bool", "not")
            if operand.fn is None:
                return _Expr("bool", const=not operand.const)
            fn = operand.fn
            return _Expr("bool", lambda s: not fn(s))
        numeric_constant = operand.fn is None and operand.type == "number"
        if isinstance(node.op, ast.USub | ast.UAdd) and numeric_constant:
            sign = -1 if isinstance(node.op, ast.USub) else 1
            return _Expr("number", const=sign * operand.const)
        raise self.fail(node, "arithmetic is not allowed in a condition (only negative numbers)")

    def visit_BoolOp(self, node: ast.BoolOp) -> _Expr:
        word = "and" if isinstance(node.op, ast.And) else "or"
        parts = [self.visit(value) for value in node.values]
        for value, part in zip(node.values, parts, strict=True):
            self.expect(value, part, "bool", word)
        fns = [p.fn if p.fn is not None else _constant_fn(p.const) for p in parts]
        if word == "and":
            if len(fns) == 2:
                a, b = fns
                return _Expr("bool", lambda s: a(s) and b(s))
            if len(fns) == 3:
                a, b, c = fns
                return _Expr("bool", lambda s: a(s) and b(s) and c(s))
            return _Expr("bool", lambda s: all(f(s) for f in fns))
        if len(fns) == 2:
            a, b = fns
            return _Expr("bool", lambda s: a(s) or b(s))
        if len(fns) == 3:
            a, b, c = fns
            return _Expr("bool", lambda s: a(s) or b(s) or c(s))
        return _Expr("bool", lambda s: any(f(s) for f in fns))

    def visit_Compare(self, node: ast.Compare) -> _Expr:
        operands = [node.left, *node.comparators]
        exprs = [self.visit(o) for o in operands]
        tests = [
            self.compare(op, operands[i], exprs[i], operands[i + 1], exprs[i + 1])
            for i, op in enumerate(node.ops)
        ]
        if len(tests) == 1:
            return tests[0]
        fns = [t.fn if t.fn is not None else _constant_fn(t.const) for t in tests]
        return _Expr("bool", lambda s: all(f(s) for f in fns))

    def compare(
        self,
        op: ast.cmpop,
        left_node: ast.AST,
        left: _Expr,
        right_node: ast.AST,
        right: _Expr,
    ) -> _Expr:
        symbol, fn = _COMPARE_OPS[type(op)]
        if isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE):
            self.expect(left_node, left, "number", symbol)
            self.expect(right_node, right, "number", symbol)
        elif isinstance(op, ast.Eq | ast.NotEq):
            if left.type not in ("number", "string", "bool"):
                raise self.fail(left_node, f"a list cannot be compared with {symbol}", _IN_HINT)
            self.expect(right_node, right, left.type, symbol)
        else:  # in, not in
            if right.type not in ("strings", "numbers"):
                raise self.fail(
                    right_node,
                    f"the right side of {symbol!r} must be a list, not a {right.type}",
                    _IN_HINT,
                )
            element = "string" if right.type == "strings" else "number"
            self.expect(left_node, left, element, symbol)
        self.check_domain(left_node, left, right_node, right)
        self.check_domain(right_node, right, left_node, left)
        if left.fn is None and right.fn is None:
            return _Expr("bool", const=fn(left.const, right.const))
        nullable = left.nullable or right.nullable
        if right.fn is None and left.source is not None:
            const = frozenset(right.const) if isinstance(op, ast.In | ast.NotIn) else right.const
            fast = _fast_compare(left.source, symbol, const)
            if fast is not None:
                return _Expr("bool", fast)
        if left.fn is None and right.source is not None and symbol in _FLIPPED:
            fast = _fast_compare(right.source, _FLIPPED[symbol], left.const)
            if fast is not None:
                return _Expr("bool", fast)
        if right.fn is None and left.fn is not None:
            g, c = left.fn, right.const
            if isinstance(op, ast.In | ast.NotIn):
                c = frozenset(c)
            if nullable:
                return _Expr("bool", lambda s: (v := g(s)) is not None and fn(v, c))
            return _Expr("bool", lambda s: fn(g(s), c))
        if left.fn is None and right.fn is not None:
            c, h = left.const, right.fn
            if nullable:
                return _Expr("bool", lambda s: (v := h(s)) is not None and fn(c, v))
            return _Expr("bool", lambda s: fn(c, h(s)))
        read_left, read_right = left.fn, right.fn
        assert read_left is not None  # the constant cases returned above
        assert read_right is not None
        if nullable:

            def both(s: Signals) -> bool:
                a, b = read_left(s), read_right(s)
                return a is not None and b is not None and fn(a, b)

            return _Expr("bool", both)
        return _Expr("bool", lambda s: fn(read_left(s), read_right(s)))

    def expect(self, node: ast.AST, expr: _Expr, wanted: str, context: str) -> None:
        if expr.type != wanted:
            raise self.fail(
                node,
                f"{context!r} needs a {_TYPE_WORDS[wanted]} here, not a {_TYPE_WORDS[expr.type]}",
                _TYPE_HINTS.get(wanted),
            )

    def check_domain(self, node: ast.AST, expr: _Expr, other_node: ast.AST, other: _Expr) -> None:
        """Constants compared with a signal must be values that signal can take."""
        if expr.domain is None or other.fn is not None:
            return
        values = other.const if isinstance(other.const, tuple | frozenset) else (other.const,)
        for value in values:
            problem = _domain_problem(expr.domain, value)
            if problem:
                raise self.fail(other_node, problem, _DOMAIN_HINTS[expr.domain])
            if expr.domain == "term_list":
                self.note_term_list(other_node, value)
            elif expr.domain == "bank":
                self.banks.add(value)

    def note_term_list(self, node: ast.AST, name: str) -> None:
        if self.known_lists is not None and name not in self.known_lists:
            raise self.fail(
                node,
                f"no watched-term list is called {name!r}{_suggest(name, self.known_lists)}",
                "one of " + ", ".join(sorted(self.known_lists)),
            )
        self.term_lists.add(name)

    def visit_List(self, node: ast.List | ast.Tuple) -> _Expr:
        if not node.elts:
            raise self.fail(node, "an empty list", "a list with at least one value")
        items = [self.visit(element) for element in node.elts]
        if any(item.fn is not None for item in items):
            raise self.fail(node, "lists may only hold constants", '["es", "ca"]')
        kinds = {item.type for item in items}
        if kinds == {"string"}:
            return _Expr("strings", const=tuple(item.const for item in items))
        if kinds == {"number"}:
            return _Expr("numbers", const=tuple(item.const for item in items))
        raise self.fail(node, "a list holds only numbers or only strings", '["es", "ca"]')

    visit_Tuple = visit_List

    def visit_Name(self, node: ast.Name) -> _Expr:
        name = node.id
        if name in _NAMES:
            return _NAMES[name]
        if name in self.params:
            value = self.params[name]
            kind = _value_type(value)
            return _Expr(kind or "string", const=value)
        if name in ("scores", "counts"):
            example = "scores.toxicity" if name == "scores" else "counts.reports_1h"
            raise self.fail(node, f"{name} needs an attribute, e.g. {example}", _VOCABULARY)
        if name in _FUNCTIONS:
            raise self.fail(node, f"{name} is a function: call it, e.g. {_FUNCTIONS[name]}")
        if name in ("true", "false"):
            raise self.fail(node, f"write {name.capitalize()}, not {name}")
        choices = [*_NAMES, *self.params, "scores", "counts", *_FUNCTIONS]
        params = ", ".join(self.params) or "none"
        raise self.fail(
            node,
            f"unknown name {name!r}{_suggest(name, choices)}",
            f"{_VOCABULARY}; this rule's params: {params}",
        )

    def visit_Attribute(self, node: ast.Attribute) -> _Expr:
        base = node.value
        if not isinstance(base, ast.Name) or base.id not in ("scores", "counts"):
            raise self.fail(
                node,
                "attribute access is only scores.<attribute> and counts.<count>",
                _VOCABULARY,
            )
        attr = node.attr
        if base.id == "scores":
            if attr not in SCORE_ATTRIBUTES:
                raise self.fail(
                    node,
                    f"unknown score 'scores.{attr}'{_suggest(attr, SCORE_ATTRIBUTES)}",
                    ", ".join(f"scores.{a}" for a in SCORE_ATTRIBUTES),
                )
            return _Expr(
                "number",
                _score_getter(attr),
                nullable=True,
                domain="score",
                source=("score", attr),
            )
        if attr not in COUNT_KEYS:
            raise self.fail(
                node,
                f"unknown count 'counts.{attr}'{_suggest(attr, COUNT_KEYS)}",
                ", ".join(f"counts.{k}" for k in COUNT_KEYS),
            )
        return _Expr("number", _count_getter(attr), source=("count", attr))

    def visit_Call(self, node: ast.Call) -> _Expr:
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in _FUNCTIONS:
            name = ast.unparse(func)
            raise self.fail(
                func,
                f"{name}(...) is not a function a condition may call",
                "; ".join(_FUNCTIONS.values()),
            )
        name = func.id
        if node.keywords:
            raise self.fail(node, f"{name}() takes no keyword arguments", _FUNCTIONS[name])
        args: list[str] = []
        for arg_node in node.args:
            value = self.visit(arg_node)
            if value.fn is not None or value.type != "string":
                raise self.fail(
                    arg_node, f"the arguments of {name}() are quoted names", _FUNCTIONS[name]
                )
            args.append(value.const)
        if name == "any_term":
            for arg_node, arg in zip(node.args, args, strict=True):
                if not _LIST_NAME.match(arg):
                    raise self.fail(arg_node, f"{arg!r} is not a list name", _FUNCTIONS[name])
                self.note_term_list(arg_node, arg)
            return _Expr("bool", _any_of("terms", args))
        if name == "matched":
            for arg_node, arg in zip(node.args, args, strict=True):
                if not _LIST_NAME.match(arg):
                    raise self.fail(arg_node, f"{arg!r} is not a bank name", _FUNCTIONS[name])
            self.banks.update(args)
            return _Expr("bool", _any_of("hash_banks", args))
        if name == "count":
            if len(args) != 2:
                raise self.fail(node, "count() takes a kind and a window", _FUNCTIONS[name])
            kind, window = args
            if kind not in COUNT_KINDS:
                raise self.fail(
                    node.args[0],
                    f"unknown count kind {kind!r}{_suggest(kind, COUNT_KINDS)}",
                    ", ".join(COUNT_KINDS),
                )
            if window not in COUNT_WINDOWS:
                raise self.fail(
                    node.args[1],
                    f"unknown window {window!r}{_suggest(window, COUNT_WINDOWS)}",
                    ", ".join(COUNT_WINDOWS),
                )
            key = f"{kind}_{window}"
            if key not in COUNT_KEYS:
                raise self.fail(
                    node, f"the pipeline counts no {kind} over {window}", _FUNCTIONS[name]
                )
            return _Expr("number", _count_getter(key), source=("count", key))
        # max_score
        if not args:
            raise self.fail(node, "max_score() needs at least one attribute", _FUNCTIONS[name])
        for arg_node, arg in zip(node.args, args, strict=True):
            if arg not in SCORE_ATTRIBUTES:
                raise self.fail(
                    arg_node,
                    f"unknown score attribute {arg!r}{_suggest(arg, SCORE_ATTRIBUTES)}",
                    ", ".join(SCORE_ATTRIBUTES),
                )
        return _Expr("number", _max_score(tuple(args)), nullable=True, domain="score")


_IN_HINT = 'language in ["es", "ca"] or "extremist_symbols" in terms'
_TYPE_WORDS = {
    "number": "number",
    "string": "text",
    "bool": "true/false condition",
    "strings": "list of texts",
    "numbers": "list of numbers",
}
_TYPE_HINTS = {
    "number": "a number or a numeric signal: scores.<attribute>, account_age_days, prior_strikes, "
    "counts.reports_1h",
    "string": 'a quoted text, e.g. language == "es"',
    "bool": "a comparison such as scores.toxicity >= 0.8, or any_term(...), matched(...)",
}
_DOMAIN_HINTS = {
    "score": "a score between 0 and 1",
    "language": 'an ISO 639-1 code such as "es", or "und" (undetermined)',
    "region": 'an ISO 3166-1 alpha-2 code in capitals, such as "ES"',
    "subject_type": ", ".join(f'"{t}"' for t in SUBJECT_TYPES),
    "term_list": "a watched-term list name",
    "bank": "a hash bank name",
}


def _domain_problem(domain: str, value: Any) -> str | None:
    if domain == "score":
        if isinstance(value, int | float) and not 0 <= value <= 1:
            return f"scores are between 0 and 1, so {value} never compares usefully"
        return None
    if not isinstance(value, str):
        return None
    if domain == "language" and not _LANGUAGE.match(value):
        return f"{value!r} is not a language code"
    if domain == "region":
        from localization import is_country

        if not is_country(value):
            return f"{value!r} is not a country code"
    if domain == "subject_type" and value not in SUBJECT_TYPES:
        return f"{value!r} is not a subject type{_suggest(value, SUBJECT_TYPES)}"
    if domain in ("term_list", "bank") and not _LIST_NAME.match(value):
        return f"{value!r} is not a name"
    return None


# Comparisons of one signal with a constant are most of every policy; each gets a closure that
# reads the signal and compares inline (one Python call per comparison instead of three).
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def _fast_compare(source: tuple[str, str], symbol: str, c: Any) -> Callable[[Signals], bool] | None:
    kind, key = source
    if kind == "score":
        return _score_compare(key, symbol, c)
    if kind == "count":
        return _count_compare(key, symbol, c)
    return _field_compare(key, symbol, c)


def _score_compare(key: str, symbol: str, c: Any) -> Callable[[Signals], bool] | None:
    # a missing score makes the comparison false
    if symbol == ">=":
        return lambda s: (v := s.scores.get(key)) is not None and v >= c
    if symbol == ">":
        return lambda s: (v := s.scores.get(key)) is not None and v > c
    if symbol == "<=":
        return lambda s: (v := s.scores.get(key)) is not None and v <= c
    if symbol == "<":
        return lambda s: (v := s.scores.get(key)) is not None and v < c
    if symbol == "==":
        return lambda s: s.scores.get(key) == c
    if symbol == "!=":
        return lambda s: (v := s.scores.get(key)) is not None and v != c
    return None


def _count_compare(key: str, symbol: str, c: Any) -> Callable[[Signals], bool] | None:
    if symbol == ">=":
        return lambda s: s.counts.get(key, 0) >= c
    if symbol == ">":
        return lambda s: s.counts.get(key, 0) > c
    if symbol == "<=":
        return lambda s: s.counts.get(key, 0) <= c
    if symbol == "<":
        return lambda s: s.counts.get(key, 0) < c
    if symbol == "==":
        return lambda s: s.counts.get(key, 0) == c
    if symbol == "!=":
        return lambda s: s.counts.get(key, 0) != c
    return None


def _field_compare(name: str, symbol: str, c: Any) -> Callable[[Signals], bool] | None:
    get = operator.attrgetter(name)
    if symbol == "==":
        return lambda s: get(s) == c
    if symbol == "in":
        return lambda s: get(s) in c
    if symbol == "!=":
        return lambda s: (v := get(s)) is not None and v != c
    if symbol == "not in":
        return lambda s: (v := get(s)) is not None and v not in c
    if symbol == ">=":
        return lambda s: (v := get(s)) is not None and v >= c
    if symbol == ">":
        return lambda s: (v := get(s)) is not None and v > c
    if symbol == "<=":
        return lambda s: (v := get(s)) is not None and v <= c
    if symbol == "<":
        return lambda s: (v := get(s)) is not None and v < c
    return None


def _constant_fn(value: Any) -> Callable[[Signals], Any]:
    return lambda _s: value


def _score_getter(attribute: str) -> Callable[[Signals], float | None]:
    return lambda s: s.scores.get(attribute)


def _count_getter(key: str) -> Callable[[Signals], int]:
    return lambda s: s.counts.get(key, 0)


def _any_of(signal: str, names: Sequence[str]) -> Callable[[Signals], bool]:
    get = operator.attrgetter(signal)
    if not names:
        return lambda s: bool(get(s))
    wanted = frozenset(names)
    return lambda s: not wanted.isdisjoint(get(s))


def _max_score(attributes: tuple[str, ...]) -> Callable[[Signals], float | None]:
    def best(s: Signals) -> float | None:
        values = [v for a in attributes if (v := s.scores.get(a)) is not None]
        return max(values) if values else None

    return best


def _compile_condition(
    where: _Where,
    raw: Any,
    params: Mapping[str, Any],
    *,
    line: int | None,
    known_lists: frozenset[str] | None,
    source_lines: Sequence[str] | None = None,
) -> tuple[Callable[[Signals], bool], frozenset[str], frozenset[str]]:
    compiler = _ConditionCompiler(where, "", params, line, known_lists, source_lines)
    test = compiler.compile(raw)
    return test, frozenset(compiler.term_lists), frozenset(compiler.banks)
