"""The policy engine: loading errors a policy author can act on, evaluation semantics, countries'
overrides and the version."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from localization import REGIONS
from moderation.policy import (
    DEFAULT_POLICY_FILE,
    SCORE_ATTRIBUTES,
    Policy,
    PolicyError,
    Signals,
    is_draft_file,
    load_policy,
    load_rules,
    parse_policy,
)
from moderation.taxonomy import REPORT_REASONS

HEAD = 'version: "2026.11.1"\nrules:\n'


def rule_yaml(
    *,
    rule_id: str = "toxic",
    mode: str = "live",
    when: str = "scores.toxicity >= 0.8",
    then: str = '{action: hold, queue: "toxicity-{language}", priority: 50, '
    "reason_code: harassment}",
    params: str | None = None,
    extra: str = "",
) -> str:
    lines = [
        f"  - id: {rule_id}",
        "    description: A rule under test.",
        f"    mode: {mode}",
        f"    when: {when!r}" if "'" not in when else f'    when: "{when}"',
        f"    then: {then}",
    ]
    if params:
        lines.append(f"    params: {params}")
    return "\n".join(lines) + "\n" + extra


def policy_of(*rules: str, regions: dict | None = None) -> Policy:
    return parse_policy(
        HEAD + "".join(rules), source="test.yaml", region_policies=regions, regions=REGIONS
    )


def comment(region: str | None = "ES", language: str = "es", **kwargs: object) -> Signals:
    return Signals(subject_type="comment", region=region, language=language, **kwargs)


def error_of(text: str, regions: dict | None = None) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="test.yaml", region_policies=regions, regions=REGIONS)
    return caught.value


# --- loading errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "problem"),
    [
        ('__import__("os").system("true")', "is not a function a condition may call"),
        ('__import__("os")', "__import__(...) is not a function a condition may call"),
        ('open("/etc/passwd") == ""', "open(...) is not a function a condition may call"),
        ("scores.__class__ > 0.5", "unknown score 'scores.__class__'"),
        ('language.__class__ == "x"', "attribute access is only scores.<attribute>"),
        ('language.upper() == "ES"', "language.upper(...) is not a function"),
        ("(lambda: True)()", "is not a function a condition may call"),
        ("lambda: True", "lambda is not allowed in a condition"),
        ("[t for t in terms] == []", "a comprehension is not allowed"),
        ("any(t for t in terms)", "any(...) is not a function"),
        ("scores.toxicity + 0.1 > 0.8", "arithmetic is not allowed"),
        ('scores["toxicity"] > 0.8', "indexing with [...] is not allowed"),
        ('f"{language}" == "es"', "an f-string is not allowed"),
        ("True if language else False", "'x if y else z' is not allowed"),
        ("(x := 1) > 0", "':=' is not allowed"),
        ("{1: 2} == {}", "a dict is not allowed"),
        ("scores.toxicity >= ", "not a valid condition"),
        ("scores.toxicity >= 0.8 and", "not a valid condition"),
        ("scores.toxcity >= 0.8", "unknown score 'scores.toxcity' (did you mean 'toxicity'?)"),
        ("languge == 'es'", "unknown name 'languge' (did you mean 'language'?)"),
        ("counts.reports_2h > 3", "unknown count 'counts.reports_2h'"),
        ("scores > 0.8", "scores needs an attribute, e.g. scores.toxicity"),
        ("language > 0.5", "'>' needs a number here, not a text"),
        ("scores.toxicity == 'high'", "'==' needs a number here, not a text"),
        ("scores.toxicity >= 8", "scores are between 0 and 1"),
        ("region == 'Spain'", "'Spain' is not a country code"),
        ("language == 'spanish'", "'spanish' is not a language code"),
        ("language in ['es', 'Catalan']", "'Catalan' is not a language code"),
        ("subject_type == 'vid'", "'vid' is not a subject type"),
        ("scores.toxicity", "the condition is a number, not true/false"),
        ("terms == ['x']", "a list cannot be compared with =="),
        ("language in 'es'", "the right side of 'in' must be a list"),
        ("any_term(language)", "the arguments of any_term() are quoted names"),
        ("count('reports', '2h') > 1", "unknown window '2h'"),
        ("count('likes', '1h') > 1", "unknown count kind 'likes'"),
        ("count('author_comments', '24h') > 1", "the pipeline counts no author_comments over 24h"),
        ("max_score('toxic') > 0.5", "unknown score attribute 'toxic'"),
        ("true", "write True, not true"),
        ("any_term", "any_term is a function: call it"),
        ("scores.toxicity > 0.5 or not 3", "'not' needs a true/false condition here"),
        ("language in []", "an empty list"),
    ],
)
def test_conditions_outside_the_language_are_refused_with_where_and_what(
    when: str, problem: str
) -> None:
    error = error_of(HEAD + rule_yaml(when=when))
    assert problem in error.message
    assert error.message.startswith("test.yaml:6: rule 'toxic': when: ")
    assert error.details["rule_id"] == "toxic"
    assert error.details["line"] == 6
    assert "expected: " in error.message


def test_the_caret_points_at_the_offending_part() -> None:
    error = error_of(HEAD + rule_yaml(when="language == 'es' and scores.toxcity >= 0.8"))
    lines = error.message.splitlines()
    expression, caret = lines[1], lines[2]
    assert expression.strip() == "language == 'es' and scores.toxcity >= 0.8"
    start = expression.index("scores.toxcity")
    assert caret.index("^") == start
    assert caret.count("^") == len("scores.toxcity")
    assert error.details["column"] == start - 4


@pytest.mark.parametrize("style", [">", "|", ""])
def test_a_multi_line_condition_reports_the_line_of_the_problem(style: str) -> None:
    text = HEAD + (
        "  - id: toxic\n"
        "    description: A rule under test.\n"
        "    mode: live\n"
        f"    when: {style}\n"
        '      language == "es"\n'
        "      and scores.toxicity >= 0.8\n"
        '      and prior_strikes >= "two"\n'
        "    then: {action: remove, reason_code: harassment}\n"
    )
    error = error_of(text)
    assert error.details["line"] == 9
    assert "'>=' needs a number here, not a text" in error.message
    caret_line = error.message.splitlines()[2]
    assert caret_line.strip() == "^" * len('"two"')


def test_huge_and_deeply_nested_conditions_are_refused() -> None:
    long = " or ".join(["scores.toxicity > 0.5"] * 120)
    assert "over the limit of 2000" in error_of(HEAD + rule_yaml(when=long)).message
    many = " or ".join(["prior_strikes > 1"] * 70)
    assert "parts, over the limit of 300" in error_of(HEAD + rule_yaml(when=many)).message
    deep = "not " * 60 + "prior_strikes > 1"
    assert "nested too deeply" in error_of(HEAD + rule_yaml(when=deep)).message


@pytest.mark.parametrize(
    ("then", "problem", "field"),
    [
        ("{action: delete, reason_code: spam}", "action 'delete' is not an action", "then.action"),
        (
            "{action: hold, queu: q, reason_code: spam}",
            "unknown key 'queu' in then (did you mean 'queue'?)",
            None,
        ),
        (
            "{action: hold, queue: q, countries: [DE], reason_code: spam}",
            "hold takes queue, priority, not 'countries'",
            "then.countries",
        ),
        (
            "{action: remove, queue: q, reason_code: spam}",
            "remove takes no params, not 'queue'",
            "then.queue",
        ),
        ("{action: remove}", "remove needs a reason_code", "then.reason_code"),
        (
            "{action: remove, reason_code: hateful}",
            "reason_code 'hateful' is not in the taxonomy (did you mean 'hate'?)",
            "then.reason_code",
        ),
        ("{action: hold, reason_code: spam}", "hold needs a queue", "then.queue"),
        (
            "{action: hold, queue: q, priority: 500, reason_code: spam}",
            "priority 500 is not a whole number from 0 to 100",
            "then.priority",
        ),
        (
            '{action: hold, queue: "tox-{lang}", reason_code: spam}',
            "unknown placeholder {lang} (did you mean 'language'?)",
            "then.queue",
        ),
        (
            '{action: hold, queue: "tox queue", reason_code: spam}',
            "has characters other than",
            "then.queue",
        ),
        ("{action: block, reason_code: hate}", "block needs countries", "then.countries"),
        (
            "{action: block, countries: [Germany], reason_code: hate}",
            "'Germany' is not an ISO 3166-1 alpha-2 country code",
            "then.countries",
        ),
        ("[remove]", "then must be a mapping", "then"),
    ],
)
def test_bad_actions_are_refused(then: str, problem: str, field: str | None) -> None:
    error = error_of(HEAD + rule_yaml(then=then))
    assert problem in error.message
    assert error.details.get("field") == field
    assert error.details["rule_id"] == "toxic"
    assert error.details["line"] in (7, 8)


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        (HEAD + "  - id: a\n    when: [\n", "not valid YAML", 5),
        ("rules: []\n", "the policy has no version", 1),
        ('version: "1"\nrules: []\n', "rules must be a non-empty list", 2),
        ('version: "1"\npolicies: []\nrules: []\n', "unknown key 'policies'", 2),
        (HEAD + rule_yaml(mode="active"), "mode 'active' is not a mode", 5),
        (HEAD + rule_yaml(mode="shadw"), "mode 'shadw' is not a mode (did you mean 'shadow'?)", 5),
        (HEAD + rule_yaml(rule_id="Toxic Rule"), "rule id 'Toxic Rule' is missing or not an id", 3),
        (HEAD + rule_yaml() + rule_yaml(), "rule id 'toxic' is used twice", 8),
        (
            HEAD + rule_yaml().replace("    mode: live\n", "    mode: live\n    whn: x\n"),
            "unknown key 'whn' in a rule (did you mean 'when'?)",
            6,
        ),
        (
            HEAD + rule_yaml().replace("    mode: live\n", "    mode: live\n    mode: off\n"),
            "'mode' appears twice",
            6,
        ),
        (
            HEAD + rule_yaml().replace("    description: A rule under test.\n", ""),
            "no description",
            3,
        ),
        (HEAD + rule_yaml(params="{threshold: [1, a]}"), "a param is a number, a text", 8),
        (HEAD + rule_yaml(params="{language: 0.5}"), "has the name of a signal", 8),
    ],
)
def test_bad_files_are_refused_with_the_line(text: str, problem: str, line: int) -> None:
    error = error_of(text)
    assert problem in error.message
    assert error.details["line"] == line
    assert error.message.startswith(f"test.yaml:{line}:")


def test_yaml_off_and_no_are_words_not_booleans() -> None:
    policy = policy_of(
        rule_yaml(mode="off"),
        rule_yaml(
            rule_id="norway",
            when="region == 'NO'",
            then="{action: block, countries: [NO], reason_code: illegal_activity}",
        ),
    )
    assert policy.rules[0].mode == "off"
    assert policy.rules[1].then.countries == ("NO",)


def test_a_missing_policy_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as caught:
        load_rules(tmp_path / "nope.yaml")
    assert "VIGIL_MODERATION__POLICY_FILE" in caught.value.message


# --- evaluation --------------------------------------------------------------------------------


def test_a_threshold_holds_in_the_queue_of_the_language() -> None:
    policy = policy_of(rule_yaml(params="{threshold: 0.8}", when="scores.toxicity >= threshold"))
    below = policy.evaluate(comment(scores={"toxicity": 0.79}))
    assert below.outcome == "publish"
    assert below.hits == below.actions == ()
    at = policy.evaluate(comment(scores={"toxicity": 0.8}))
    assert at.outcome == "hold"
    [hit] = at.actions
    assert (hit.rule_id, hit.mode, hit.queue, hit.priority, hit.reason_code) == (
        "toxic",
        "live",
        "toxicity-es",
        50,
        "harassment",
    )
    assert hit.policy_version == policy.version == at.policy_version
    assert policy.evaluate(comment(language="de", scores={"toxicity": 0.9})).actions[0].queue == (
        "toxicity-de"
    )


def test_shadow_rules_are_recorded_and_never_acted_on() -> None:
    policy = policy_of(rule_yaml(mode="shadow"))
    result = policy.evaluate(comment(scores={"toxicity": 0.95}))
    assert result.outcome == "publish"
    assert result.actions == ()
    [hit] = result.hits
    assert (hit.rule_id, hit.mode, hit.action) == ("toxic", "shadow", "hold")
    assert result.shadow_hits == (hit,)


def test_off_rules_are_not_evaluated() -> None:
    policy = policy_of(rule_yaml(mode="off"), rule_yaml(rule_id="other", when="prior_strikes > 0"))
    assert [r.id for r in policy.rules_for("ES")] == ["other"]
    result = policy.evaluate(comment(scores={"toxicity": 0.99}, prior_strikes=1))
    assert [h.rule_id for h in result.hits] == ["other"]


def test_the_most_severe_live_action_is_the_outcome_and_all_live_actions_act() -> None:
    policy = policy_of(
        rule_yaml(
            rule_id="hold-low", then="{action: hold, queue: a, priority: 20, reason_code: spam}"
        ),
        rule_yaml(
            rule_id="hold-high", then="{action: hold, queue: b, priority: 90, reason_code: spam}"
        ),
        rule_yaml(rule_id="limit", then="{action: limit_distribution, reason_code: spam}"),
        rule_yaml(rule_id="fine", then="publish"),
        rule_yaml(rule_id="block", then="{action: block, countries: [DE], reason_code: hate}"),
        rule_yaml(rule_id="age", then="{action: age_restrict, reason_code: other}"),
        rule_yaml(rule_id="gone", mode="shadow", then="{action: remove, reason_code: hate}"),
    )
    result = policy.evaluate(comment(scores={"toxicity": 0.9}))
    assert result.outcome == "block"  # the shadow remove does not count
    assert [a.rule_id for a in result.actions] == [
        "block",
        "hold-high",
        "hold-low",
        "age",
        "limit",
        "fine",
    ]
    assert [h.rule_id for h in result.hits][-1] == "gone"
    assert result.actions[0].countries == ("DE",)
    assert result.rule_ids[0] == "block"


def test_publish_alone_is_the_outcome_publish() -> None:
    policy = policy_of(rule_yaml(then="publish"))
    result = policy.evaluate(comment(scores={"toxicity": 0.9}))
    assert result.outcome == "publish"
    assert [a.action for a in result.actions] == ["publish"]


def test_missing_values_make_comparisons_false() -> None:
    policy = policy_of(
        rule_yaml(rule_id="young", when="account_age_days < 7"),
        rule_yaml(rule_id="threat", when="scores.threat > 0.5"),
        rule_yaml(rule_id="no-threat", when="not scores.threat > 0.5"),
        rule_yaml(rule_id="spain", when="region == 'ES'"),
        rule_yaml(rule_id="not-spain", when="region != 'ES'"),
        rule_yaml(rule_id="reports", when="counts.reports_1h == 0"),
    )
    unknown = Signals(subject_type="comment", region=None, language="und")
    assert [h.rule_id for h in policy.evaluate(unknown).hits] == ["no-threat", "reports"]
    known = comment(region="FR", account_age_days=2.0, scores={"threat": 0.7})
    assert [h.rule_id for h in policy.evaluate(known).hits] == [
        "young",
        "threat",
        "not-spain",
        "reports",
    ]


def test_functions_lists_and_chained_comparisons() -> None:
    policy = policy_of(
        rule_yaml(rule_id="any-term", when="any_term()"),
        rule_yaml(rule_id="slurs", when="any_term('slurs', 'threats')"),
        rule_yaml(rule_id="in-terms", when="'extremist_symbols' in terms"),
        rule_yaml(rule_id="any-bank", when="matched()"),
        rule_yaml(rule_id="bank", when="matched('demo')"),
        rule_yaml(rule_id="reports", when="count('reports', '1h') >= 3"),
        rule_yaml(rule_id="band", when="0.5 <= scores.insult < 0.8"),
        rule_yaml(rule_id="max", when="max_score('insult', 'threat') > 0.6"),
        rule_yaml(rule_id="iberian", when="language in ['es', 'ca'] and region not in ['MX']"),
        rule_yaml(rule_id="video", when="subject_type == 'video'"),
    )

    def hits(signals: Signals) -> list[str]:
        return [h.rule_id for h in policy.evaluate(signals).hits]

    assert hits(comment(region="MX")) == []
    assert hits(comment(terms=("slurs",))) == ["any-term", "slurs", "iberian"]
    assert hits(comment(region="MX", terms=("extremist_symbols",))) == ["any-term", "in-terms"]
    assert hits(comment(region="MX", hash_banks=("other",))) == ["any-bank"]
    assert hits(comment(region="MX", hash_banks=("demo",))) == ["any-bank", "bank"]
    assert hits(comment(region="MX", counts={"reports_1h": 3})) == ["reports"]
    assert hits(comment(region="MX", scores={"insult": 0.79})) == ["band", "max"]
    assert hits(comment(region="MX", scores={"insult": 0.8})) == ["max"]
    assert hits(comment(region="MX", scores={"threat": 0.7})) == ["max"]
    assert hits(Signals("video", "US", "en")) == ["video"]


def test_signals_round_trip_through_json() -> None:
    signals = Signals(
        subject_type="video",
        region="es",
        language="es",
        scores={"toxicity": 0.5},
        terms=("slurs",),
        hash_banks=("demo",),
        account_age_days=3.5,
        prior_strikes=2,
        counts={"reports_1h": 4},
    )
    assert signals.region == "ES"
    assert Signals.from_json(signals.to_json()) == signals
    assert Signals.from_json({"language": "en"}).subject_type == "comment"


def test_score_attributes_match_the_classifiers() -> None:
    classifiers = pytest.importorskip("moderation.classifiers")
    assert tuple(classifiers.ATTRIBUTES) == SCORE_ATTRIBUTES


def test_reason_codes_are_the_report_taxonomy() -> None:
    assert len(REPORT_REASONS) == 18
    reports = pytest.importorskip("moderation.reports")
    assert set(reports.REPORT_REASONS) == set(REPORT_REASONS)


# --- countries ---------------------------------------------------------------------------------

GLOBAL = (
    rule_yaml(
        rule_id="toxicity-hold",
        params="{threshold: 0.8}",
        when="scores.toxicity >= threshold",
    ),
    rule_yaml(
        rule_id="profanity-limit",
        when="scores.profanity >= 0.9",
        then="{action: limit_distribution, reason_code: other}",
    ),
)
SPAIN = {
    "overrides": {"toxicity-hold": {"params": {"threshold": 0.7}, "then": {"queue": "es-ES"}}},
}
GERMANY = {
    "rules": [
        {
            "id": "de-extremist-symbols",
            "description": "Symbols of banned organisations are blocked in Germany.",
            "mode": "live",
            "scope": "viewers",
            "when": 'any_term("extremist_symbols")',
            "then": {"action": "block", "reason_code": "violent_extremism"},
        }
    ],
    "overrides": {"profanity-limit": {"mode": "off"}},
}


def test_a_spanish_toxic_comment_from_spain_goes_to_es_es_and_from_mexico_follows_the_global_rule():
    policy = policy_of(*GLOBAL, regions={"ES": SPAIN, "DE": GERMANY})
    toxic = {"toxicity": 0.75}
    spain = policy.evaluate(comment(region="ES", scores=toxic))
    assert spain.outcome == "hold"
    [hit] = spain.actions
    assert (hit.rule_id, hit.queue, hit.override) == ("toxicity-hold", "es-ES", "ES")
    assert policy.evaluate(comment(region="MX", scores=toxic)).outcome == "publish"
    mexico = policy.evaluate(comment(region="MX", scores={"toxicity": 0.85}))
    assert (mexico.actions[0].queue, mexico.actions[0].override) == ("toxicity-es", None)


def test_a_viewer_scoped_country_rule_blocks_there_whatever_the_author_country() -> None:
    policy = policy_of(*GLOBAL, regions={"ES": SPAIN, "DE": GERMANY})
    for region in ("DE", "ES", "FR", None):
        signals = comment(region=region, terms=("extremist_symbols",), scores={"toxicity": 0.9})
        result = policy.evaluate(signals)
        assert result.outcome == "block"
        assert [(a.action, a.countries) for a in result.actions] == [
            ("block", ("DE",)),
            ("hold", ()),
        ]
    assert policy.evaluate(comment(region="DE", terms=("other",))).outcome == "publish"


def test_a_country_can_turn_a_global_rule_off_for_its_content() -> None:
    policy = policy_of(*GLOBAL, regions={"DE": GERMANY})
    profane = {"profanity": 0.95}
    assert policy.evaluate(comment(region="DE", scores=profane)).outcome == "publish"
    assert policy.evaluate(comment(region="AT", scores=profane)).outcome == "limit_distribution"
    assert "profanity-limit" not in [r.id for r in policy.rules_for("DE")]


def test_author_scoped_country_rules_run_only_on_that_country_content() -> None:
    france = {
        "rules": [
            {
                "id": "fr-insult-hold",
                "description": "French insults are held for the French team.",
                "mode": "live",
                "when": "scores.insult >= 0.6",
                "then": {"action": "hold", "queue": "fr-FR", "reason_code": "harassment"},
            }
        ]
    }
    policy = policy_of(*GLOBAL, regions={"FR": france})
    assert policy.evaluate(comment(region="FR", scores={"insult": 0.7})).actions[0].queue == "fr-FR"
    assert policy.evaluate(comment(region="BE", scores={"insult": 0.7})).outcome == "publish"


def test_an_override_that_changes_the_action_keeps_the_reason() -> None:
    regions = {"ES": {"overrides": {"toxicity-hold": {"then": {"action": "remove"}}}}}
    policy = policy_of(*GLOBAL, regions=regions)
    [hit] = policy.evaluate(comment(scores={"toxicity": 0.9})).actions
    assert (hit.action, hit.reason_code, hit.queue) == ("remove", "harassment", None)


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ({"overrides": {"toxicity-hld": {"mode": "off"}}}, "no global rule has that id"),
        ({"overrides": {"toxicity-hold": {"mode": "paused"}}}, "mode 'paused' is not a mode"),
        ({"overrides": {"toxicity-hold": {"params": {"limit": 0.7}}}}, "'limit' is not a param"),
        (
            {"overrides": {"toxicity-hold": {"params": {"threshold": "high"}}}},
            "param threshold is a number in the global rule, not a string",
        ),
        (
            {"overrides": {"toxicity-hold": {"params": {"threshold": 7}}}},
            "scores are between 0 and 1",
        ),
        ({"overrides": {"toxicity-hold": {"description": "x"}}}, "unknown key 'description'"),
        ({"overrides": {"toxicity-hold": {}}}, "must change mode, params, when or then"),
        (
            {"overrides": {"toxicity-hold": {"then": {"queue": "{region"}}}},
            "queue '{region'",
        ),
        ({"policies": []}, "unknown key 'policies'"),
        (
            {"rules": [dict(GERMANY["rules"][0], id="toxicity-hold")]},
            "rule id 'toxicity-hold' is already used in test.yaml",
        ),
        (
            {
                "rules": [
                    dict(
                        GERMANY["rules"][0],
                        then={"action": "hold", "queue": "q", "reason_code": "hate"},
                    )
                ]
            },
            "a scope: viewers rule runs on content from everywhere, so it may only block",
        ),
        (
            {
                "rules": [
                    dict(
                        GERMANY["rules"][0],
                        then={"action": "block", "countries": ["FR"], "reason_code": "hate"},
                    )
                ]
            },
            "a rule of DE can only block in DE",
        ),
        ({"rules": [dict(GERMANY["rules"][0], scope="world")]}, "scope 'world' is not a scope"),
    ],
)
def test_bad_country_blocks_are_refused(block: dict, problem: str) -> None:
    error = error_of(HEAD + "".join(GLOBAL), regions={"DE": block})
    assert problem in error.message
    assert error.details["file"] == "region DE policy"


def test_the_version_is_declared_plus_a_hash_of_global_and_country_rules() -> None:
    base = policy_of(*GLOBAL, regions={"ES": SPAIN})
    declared, digest = base.version.split("+")
    assert declared == "2026.11.1"
    assert len(digest) == 12
    assert policy_of(*GLOBAL, regions={"ES": SPAIN}).version == base.version
    changed = {"overrides": {"toxicity-hold": {"params": {"threshold": 0.72}}}}
    assert policy_of(*GLOBAL, regions={"ES": changed}).version != base.version
    assert policy_of(*GLOBAL, regions={"ES": SPAIN, "DE": GERMANY}).version != base.version
    assert policy_of(*GLOBAL).version != base.version
    # Comments and layout are not content.
    commented = HEAD + "# thresholds reviewed 2026-11\n" + "".join(GLOBAL)
    same = parse_policy(commented, source="x.yaml", region_policies={"ES": SPAIN})
    assert same.version == base.version
    # YAML 1.1 "off" read as False by another loader is the same policy as "off".
    off = {"overrides": {"profanity-limit": {"mode": "off"}}}
    false = {"overrides": {"profanity-limit": {"mode": False}}}
    assert policy_of(*GLOBAL, regions={"DE": off}).version == (
        policy_of(*GLOBAL, regions={"DE": false}).version
    )


# --- files -------------------------------------------------------------------------------------


def test_drafts_need_no_version(tmp_path: Path) -> None:
    draft = tmp_path / "draft.yaml"
    draft.write_text("rules:\n" + rule_yaml())
    assert is_draft_file(draft)
    policy = load_rules(draft)
    assert policy.version.startswith("draft+")
    assert not is_draft_file(DEFAULT_POLICY_FILE)


def test_the_shipped_default_policy_holds_removes_and_shadows() -> None:
    policy = parse_policy(
        DEFAULT_POLICY_FILE.read_text(), source=str(DEFAULT_POLICY_FILE), regions=REGIONS
    )
    assert policy.declared_version == "2026.11.1"
    modes = {r.mode for r in policy.rules}
    assert modes == {"live", "shadow"}

    def outcome(**kwargs: object) -> tuple[str, list[str]]:
        result = policy.evaluate(comment(region="MX", **kwargs))
        return result.outcome, [a.rule_id for a in result.actions]

    assert outcome(scores={"toxicity": 0.1}) == ("publish", [])
    assert outcome(scores={"toxicity": 0.85}) == ("hold", ["toxicity-hold"])
    assert outcome(scores={"severe_toxicity": 0.95, "toxicity": 0.99})[0] == "remove"
    assert outcome(hash_banks=("violent_extremism",)) == (
        "remove",
        ["hash-violent-extremism"],
    )
    assert outcome(hash_banks=("demo",)) == ("hold", ["hash-other-bank"])
    assert outcome(counts={"reports_1h": 5}) == ("hold", ["report-surge"])
    new = policy.evaluate(comment(region="MX", account_age_days=1, scores={"toxicity": 0.85}))
    assert [a.rule_id for a in new.actions] == ["new-account-toxicity", "toxicity-hold"]
    assert new.actions[0].priority > new.actions[1].priority
    shadow = policy.evaluate(comment(region="MX", scores={"toxicity": 0.7}))
    assert shadow.outcome == "publish"
    assert [h.rule_id for h in shadow.shadow_hits] == ["toxicity-hold-lower-threshold"]
    terms = policy.evaluate(comment(region="MX", terms=("slurs",)))
    assert terms.actions[0].queue == "terms-es"  # Mexico's review language


# --- the shipped countries (localization/regions/*.yaml) ----------------------------------


@pytest.fixture(scope="module")
def shipped() -> Policy:
    return load_policy(regions=REGIONS)


def test_the_shipped_policy_has_spain_germany_and_france_blocks(shipped: Policy) -> None:
    assert shipped.source == str(DEFAULT_POLICY_FILE)
    assert set(shipped.regional) == {"DE", "ES", "FR"}
    assert shipped.version.startswith("2026.11.1+")


def test_spanish_toxicity_from_spain_is_held_for_spain_and_from_mexico_follows_the_global_rule(
    shipped: Policy,
) -> None:
    borderline = {"toxicity": 0.75}
    spain = shipped.evaluate(comment(region="ES", scores=borderline))
    assert spain.outcome == "hold"
    [hold] = spain.actions
    assert (hold.rule_id, hold.queue, hold.priority, hold.override) == (
        "es-spanish-toxicity-hold",
        "es-ES",
        55,
        "ES",
    )
    assert shipped.evaluate(comment(region="MX", scores=borderline)).outcome == "publish"

    toxic = {"toxicity": 0.85}
    spain = shipped.evaluate(comment(region="ES", scores=toxic))
    assert [(a.rule_id, a.queue) for a in spain.actions] == [
        ("es-spanish-toxicity-hold", "es-ES"),
        ("toxicity-hold", "es-ES"),
    ]
    mexico = shipped.evaluate(comment(region="MX", scores=toxic))
    assert [(a.rule_id, a.queue) for a in mexico.actions] == [("toxicity-hold", "toxicity-es")]
    catalan = shipped.evaluate(comment(region="ES", language="ca", scores=toxic))
    assert [(a.rule_id, a.queue) for a in catalan.actions] == [("toxicity-hold", "es-ES")]


def test_the_spanish_rule_in_shadow_mode_records_without_acting() -> None:
    block = {**REGIONS["ES"].policy}
    block["rules"] = [dict(block["rules"][0], mode="shadow")]
    regions = dict(REGIONS)
    regions["ES"] = dataclasses.replace(REGIONS["ES"], policy=block, source=None)
    policy = load_policy(regions=regions)
    result = policy.evaluate(comment(region="ES", scores={"toxicity": 0.75}))
    assert result.outcome == "publish"
    assert result.actions == ()
    trial, hit = result.hits  # global rules run first: the lower-threshold trial
    assert trial.rule_id == "toxicity-hold-lower-threshold"
    assert (hit.rule_id, hit.mode, hit.queue, hit.policy_version) == (
        "es-spanish-toxicity-hold",
        "shadow",
        "es-ES",
        policy.version,
    )
    assert policy.version != load_policy(regions=REGIONS).version


def test_germany_blocks_extremist_symbols_from_any_author(shipped: Policy) -> None:
    for region in ("DE", "FR", "US"):
        result = shipped.evaluate(comment(region=region, terms=("extremist_symbols",)))
        assert result.outcome == "block"
        block, hold = result.actions
        assert (block.rule_id, block.countries, block.reason_code) == (
            "de-extremist-symbols-block",
            ("DE",),
            "violent_extremism",
        )
        assert (hold.rule_id, hold.countries) == ("watched-terms-hold", ())
    assert "extremist_symbols" in shipped.viewer_term_lists


def test_germany_and_france_change_global_rules_for_their_content(shipped: Policy) -> None:
    reported = {"reports_1h": 3}
    assert shipped.evaluate(comment(region="DE", counts=reported)).outcome == "hold"
    assert shipped.evaluate(comment(region="AT", counts=reported)).outcome == "publish"

    profane_video = Signals("video", "DE", "de", scores={"profanity": 0.95})
    assert shipped.evaluate(profane_video).outcome == "age_restrict"
    elsewhere = shipped.evaluate(dataclasses.replace(profane_video, region="AT"))
    assert (elsewhere.outcome, elsewhere.hits[0].mode) == ("publish", "shadow")

    attack = {"identity_attack": 0.65}
    [hold] = shipped.evaluate(comment(region="FR", language="fr", scores=attack)).actions
    assert (hold.queue, hold.priority) == ("fr-FR", 80)
    assert shipped.evaluate(comment(region="BE", language="fr", scores=attack)).actions == ()
    trial = {"toxicity": 0.7}
    assert shipped.evaluate(comment(region="FR", language="fr", scores=trial)).hits == ()
    assert len(shipped.evaluate(comment(region="BE", language="fr", scores=trial)).hits) == 1


def test_errors_in_a_country_file_name_its_line(tmp_path: Path) -> None:
    text = REGIONS["ES"].source and Path(REGIONS["ES"].source).read_text()
    assert text
    bad = tmp_path / "ES.yaml"
    bad.write_text(text.replace("scores.toxicity >= threshold", "scores.toxicity >= treshold"))
    lines = bad.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "treshold" in text)
    regions = dict(REGIONS)
    regions["ES"] = dataclasses.replace(REGIONS["ES"], source=str(bad))
    with pytest.raises(PolicyError) as caught:
        load_policy(regions=regions)
    message = caught.value.message
    assert message.startswith(f"{bad}:{line}: rule 'es-spanish-toxicity-hold': when: ")
    assert "unknown name 'treshold' (did you mean 'threshold'?)" in message


def test_load_policy_reads_a_regions_directory(tmp_path: Path) -> None:
    import localization

    if not hasattr(localization, "load_regions"):
        pytest.skip("localization does not export load_regions yet")
    for source in Path(REGIONS["ES"].source).parent.glob("*.yaml"):
        (tmp_path / source.name).write_text(source.read_text())
    assert load_policy(regions_dir=tmp_path).version == load_policy(regions=REGIONS).version
    spain = tmp_path / "ES.yaml"
    spain.write_text(
        spain.read_text().replace("params: {threshold: 0.7}", "params: {threshold: 0.72}")
    )
    changed = load_policy(regions_dir=tmp_path)
    assert changed.version != load_policy(regions=REGIONS).version
    assert changed.version.split("+")[0] == "2026.11.1"


def test_two_signals_can_be_compared_and_missing_ones_make_it_false() -> None:
    policy = policy_of(rule_yaml(when="scores.insult > scores.toxicity"))
    assert policy.evaluate(comment(scores={"insult": 0.9, "toxicity": 0.2})).hits
    assert not policy.evaluate(comment(scores={"insult": 0.1, "toxicity": 0.2})).hits
    assert not policy.evaluate(comment(scores={"insult": 0.9})).hits


def test_term_lists_are_checked_against_the_lists_that_exist(tmp_path: Path) -> None:
    draft = tmp_path / "draft.yaml"
    draft.write_text("rules:\n" + rule_yaml(when="any_term('slurz') or 'threats' in terms"))
    with pytest.raises(PolicyError) as caught:
        load_rules(draft, term_lists={"slurs", "threats"})
    assert "no watched-term list is called 'slurz' (did you mean 'slurs'?)" in caught.value.message
    assert load_rules(draft).term_lists == {"slurz", "threats"}
