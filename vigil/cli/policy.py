"""``vigil policy ...``: check, read and backtest moderation policies (docs/policy.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.settings import get_settings
from moderation.backtest import BacktestReport, backtest
from moderation.policy import Policy, PolicyError, Rule, is_draft_file, load_policy, load_rules

from .admin import fail, open_database

app = typer.Typer(help="Moderation policies: validate, show, backtest.", no_args_is_help=True)
console = Console()


def _configured_policy(path: Path | None = None) -> Policy:
    settings = get_settings().moderation
    return load_policy(path or settings.policy_file, regions_dir=settings.regions_dir)


@app.command("validate")
def validate(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="A policy file (with version: checked with the countries' policy blocks) or a "
            "draft rule file (no version: checked alone). Default: the configured policy."
        ),
    ] = None,
) -> None:
    """Load a policy and report the first problem with its file, line and rule."""
    try:
        if file is not None and is_draft_file(file):
            policy = load_rules(file)
            what = "draft rule file"
        else:
            policy = _configured_policy(file)
            what = "policy"
    except PolicyError as exc:
        fail(exc.message)
    countries = ", ".join(sorted(policy.regional)) or "none"
    console.print(
        f"{what} [bold]{escape(policy.source)}[/] is valid: version [bold]{policy.version}[/], "
        f"{len(policy.rules)} rules, country blocks: {countries}"
    )


def _then(rule: Rule) -> str:
    spec = rule.then
    if spec.action == "hold":
        return f"hold {spec.queue} p{spec.priority}"
    if spec.action == "block":
        return f"block {','.join(spec.countries)}"
    return spec.action


def _rules_table(rules: tuple[Rule, ...] | list[Rule], *, with_country: bool = False) -> Table:
    columns = ["rule", "mode", "then", "reason", "when"]
    if with_country:
        columns.insert(1, "from")
    table = Table(*columns)
    for rule in rules:
        when = escape(rule.when)
        if rule.params:
            params = ", ".join(f"{k}={v}" for k, v in rule.params.items())
            when += f"  [dim]{escape(params)}[/]"
        row = [rule.id, rule.mode, escape(_then(rule)), rule.then.reason_code, when]
        if with_country:
            origin = "global"
            if rule.country:
                origin = f"{rule.country} override" if rule.overridden else f"{rule.country} rule"
            row.insert(1, origin)
        table.add_row(*row)
    return table


@app.command("show")
def show(
    region: Annotated[
        str | None,
        typer.Option(help="Show the rules as they run on content from this country, e.g. ES."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The policy as one JSON object.")] = False,
) -> None:
    """The configured policy: its version, the global rules and each country's changes."""
    try:
        policy = _configured_policy()
    except PolicyError as exc:
        fail(exc.message)
    if as_json:
        data = policy.to_json()
        if region:
            data["effective"] = {
                "region": region.upper(),
                "rules": [r.to_json() for r in policy.rules_for(region)],
            }
        print(json.dumps(data, indent=2))
        return
    console.print(f"policy [bold]{policy.version}[/] from {escape(policy.source)}")
    if policy.description:
        console.print(escape(policy.description.strip()))
    if region:
        console.print(f"\nrules on content from {region.upper()} (off rules left out):")
        console.print(_rules_table(policy.rules_for(region), with_country=True))
        return
    console.print(_rules_table(policy.rules))
    for country, rules in sorted(policy.regional.items()):
        console.print(f"\n[bold]{country}[/]")
        console.print(_rules_table(rules, with_country=True))


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _print_report(report: BacktestReport, source: str) -> None:
    window = f"the last {report.since_days:g} days" if report.since_days is not None else "all time"
    console.print(
        f"backtest of [bold]{escape(source)}[/] ({report.policy_version}) over "
        f"{report.checks:,} current checks ({window})"
    )
    acted = ", ".join(f"{a} {n:,}" for a, n in report.actions.items() if a != "publish")
    console.print(f"would act on {report.flagged:,}: {acted or 'nothing'}")
    c = report.confusion
    console.print(
        f"\nagainst human decisions: {report.labelled:,} labelled, "
        f"{report.unlabelled_hits:,} hits unlabelled\n"
        f"  precision {_figure(c.precision)}  recall {_figure(c.recall)}  "
        f"F1 {_figure(c.f1)}  agreement {_figure(c.agreement)}"
    )
    matrix = Table("", "human: violating", "human: fine")
    matrix.add_row("draft flagged", str(c.true_positives), str(c.false_positives))
    matrix.add_row("draft did not", str(c.false_negatives), str(c.true_negatives))
    console.print(matrix)
    rules = Table("rule", "mode", "action", "hits", "unlabelled", "precision", "recall")
    for figures in report.rules:
        rules.add_row(
            figures.rule_id,
            figures.mode,
            figures.action,
            f"{figures.hits:,}",
            f"{figures.unlabelled_hits:,}",
            _figure(figures.confusion.precision),
            _figure(figures.confusion.recall),
        )
    console.print(rules)
    for title, items in (("sample of hits", report.samples), ("missed", report.misses)):
        if not items:
            continue
        table = Table("subject", "region", "lang", "would", "rules", "scores", "human")
        for item in items:
            table.add_row(
                f"{item.subject_type} {item.subject_id}",
                item.region or "",
                item.language,
                item.outcome,
                ", ".join(item.rule_ids),
                ", ".join(f"{k} {v:.2f}" for k, v in item.scores.items()),
                item.human or "",
            )
        console.print(f"\n{title}:")
        console.print(table)


@app.command("backtest")
def backtest_command(
    rule_file: Annotated[
        Path, typer.Argument(help="A draft rule file: the policy format, version optional.")
    ],
    since: Annotated[
        float | None,
        typer.Option(min=0, help="Only content checked in the last DAYS days.", metavar="DAYS"),
    ] = None,
    sample: Annotated[int, typer.Option(min=0, max=1000, help="Hits to list.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="The report as one JSON object.")] = False,
) -> None:
    """Run a draft rule file over stored content: what it would have done, and how it agrees
    with moderators' decisions (precision, recall)."""
    try:
        draft = load_rules(rule_file)
    except PolicyError as exc:
        fail(exc.message)
    database = open_database()
    try:
        with database.session() as session:
            report = backtest(draft, session, since_days=since, sample_size=sample)
    finally:
        database.dispose()
    if as_json:
        print(json.dumps({"file": str(rule_file), **report.to_json()}, indent=2))
        return
    _print_report(report, str(rule_file))
