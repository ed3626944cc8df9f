"""``vigil banks ...``: perceptual-hash banks (PDQ images, vPDQ videos) for policy admins.

Banks are positive (known-bad media) or ``--negative`` (known-benign media that suppresses
matches). ``match`` prints what a video, a vPDQ file, an image or a video file matches, with the
distance and the matching frames as evidence; the thresholds are ``VIGIL_MODERATION__HASH_*``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.settings import get_settings
from moderation import hashbanks

from .admin import fail, operator_session

app = typer.Typer(
    help="Perceptual-hash banks: PDQ/vPDQ hashes that uploads are matched against.",
    no_args_is_help=True,
)
console = Console()


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        fail(f"{what}: cannot read {path}: {exc.strerror or exc}")
        raise typer.Exit(1) from exc  # fail() has exited already; this tells the type checker


def _one_of(**given: object) -> str:
    chosen = [name for name, value in given.items() if value is not None]
    if len(chosen) != 1:
        options = ", ".join(f"--{name.replace('_', '-')}" for name in given)
        fail(f"give exactly one of {options}")
    return chosen[0]


@app.command("list")
def list_banks(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per bank.")] = False,
) -> None:
    """Every bank: positive or negative, enabled or not, and its entry counts."""
    with operator_session() as session:
        rows = [
            {
                "name": s.bank.name,
                "negative": s.bank.negative,
                "enabled": s.bank.enabled,
                "entries": s.entries,
                "enabled_entries": s.enabled_entries,
                "description": s.bank.description,
            }
            for s in hashbanks.list_banks(session)
        ]
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    if not rows:
        console.print("no hash banks; create one with `vigil banks create NAME`")
        return
    table = Table("bank", "kind", "state", "entries", "enabled entries", "description")
    for row in rows:
        table.add_row(
            escape(str(row["name"])),
            "negative" if row["negative"] else "positive",
            "enabled" if row["enabled"] else "disabled",
            str(row["entries"]),
            str(row["enabled_entries"]),
            escape(str(row["description"])),
        )
    console.print(table)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Bank name: a-z, 0-9, _ . - (up to 64).")],
    negative: Annotated[
        bool, typer.Option("--negative", help="Known-benign media: suppresses matches.")
    ] = False,
    description: Annotated[str, typer.Option(help="What the bank holds, and from where.")] = "",
) -> None:
    """Create a bank (positive unless --negative)."""
    with operator_session() as session:
        bank = hashbanks.create_bank(session, name, negative=negative, description=description)
        kind = "negative" if bank.negative else "positive"
    console.print(f"created {kind} hash bank [bold]{escape(name)}[/]")


@app.command("rename")
def rename(
    name: Annotated[str, typer.Argument(help="The bank.")],
    new_name: Annotated[str, typer.Argument(help="Its new name.")],
) -> None:
    """Rename a bank."""
    with operator_session() as session:
        hashbanks.update_bank(session, name, new_name=new_name)
    console.print(f"renamed hash bank {escape(name)} to [bold]{escape(new_name)}[/]")


def _set_bank(name: str, enabled: bool) -> None:
    with operator_session() as session:
        hashbanks.set_bank_enabled(session, name, enabled)
    console.print(f"hash bank {escape(name)} {'enabled' if enabled else 'disabled'}")


@app.command("enable-bank")
def enable_bank(name: Annotated[str, typer.Argument(help="The bank.")]) -> None:
    """Enable a whole bank again."""
    _set_bank(name, True)


@app.command("disable-bank")
def disable_bank(name: Annotated[str, typer.Argument(help="The bank.")]) -> None:
    """Disable a whole bank: its entries stop matching, and are kept."""
    _set_bank(name, False)


@app.command("delete-bank")
def delete_bank(
    name: Annotated[str, typer.Argument(help="The bank.")],
    force: Annotated[bool, typer.Option("--force", help="Delete its entries too.")] = False,
) -> None:
    """Delete a bank (one with entries only with --force)."""
    with operator_session() as session:
        removed = hashbanks.remove_bank(session, name, force=force)
    console.print(f"deleted hash bank {escape(name)} and {removed} entries")


@app.command("add")
def add(
    bank: Annotated[str, typer.Argument(help="The bank to add to.")],
    pdq: Annotated[str | None, typer.Option(help="An image's PDQ hash: 64 hex digits.")] = None,
    vpdq: Annotated[
        Path | None, typer.Option(help="A vPDQ text file: frame,quality,pdq,seconds per line.")
    ] = None,
    video: Annotated[
        str | None, typer.Option(help="A platform video's id (its stored frame hashes).")
    ] = None,
    file: Annotated[Path | None, typer.Option(help="An image or video file to hash.")] = None,
    label: Annotated[str, typer.Option(help="What it is, shown with every match.")] = "",
) -> None:
    """Add one image or video to a bank: --pdq HEX | --vpdq FILE | --video ID | --file PATH."""
    chosen = _one_of(pdq=pdq, vpdq=vpdq, video=video, file=file)
    settings = get_settings()
    quality = settings.moderation.hash_quality_threshold
    with operator_session() as session:
        if chosen == "pdq":
            assert pdq is not None
            entry = hashbanks.add_entry(session, bank, pdq=pdq, label=label, source="cli:pdq")
        elif chosen == "vpdq":
            assert vpdq is not None
            entry = hashbanks.add_vpdq_text(
                session,
                bank,
                _read(vpdq, "--vpdq"),
                label=label,
                source=f"vpdq:{vpdq.name}"[: hashbanks.MAX_SOURCE_LENGTH],
                quality_threshold=quality,
            )
        elif chosen == "video":
            assert video is not None
            entry = hashbanks.add_video(
                session, bank, video, label=label, quality_threshold=quality
            )
        else:
            assert file is not None
            entry = hashbanks.add_file(
                session,
                bank,
                file,
                label=label,
                interval_seconds=settings.media.hash_interval_seconds,
                quality_threshold=quality,
            )
        entry_id, kind, frames = entry.id, entry.kind, hashbanks.entry_frame_count(entry)
    what = "1 image hash" if kind == "pdq" else f"a video of {frames} frame hashes"
    console.print(f"added {what} to {escape(bank)}: entry [bold]{entry_id}[/]", soft_wrap=True)


@app.command("entries")
def entries(
    bank: Annotated[str, typer.Argument(help="The bank.")],
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per entry.")] = False,
) -> None:
    """A bank's entries, oldest first."""
    with operator_session() as session:
        rows = [
            {
                "id": e.id,
                "kind": e.kind,
                "enabled": e.enabled,
                "frames": hashbanks.entry_frame_count(e),
                "pdq": e.pdq,
                "label": e.label,
                "source": e.source,
                "created_at": e.created_at.isoformat(),
            }
            for e in hashbanks.list_entries(session, bank, limit=limit)
        ]
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    table = Table("kind", "state", "frames", "label", "source", "added")
    table.add_column("entry", no_wrap=True)
    for row in rows:
        table.add_row(
            str(row["kind"]),
            "enabled" if row["enabled"] else "disabled",
            str(row["frames"]),
            escape(str(row["label"])),
            escape(str(row["source"] or "")),
            str(row["created_at"])[:19],
            str(row["id"]),
        )
    console.print(table if rows else f"hash bank {escape(bank)} has no entries")


def _set_entry(entry_id: str, enabled: bool) -> None:
    with operator_session() as session:
        entry = hashbanks.set_entry_enabled(session, entry_id, enabled)
        label = entry.label
    state = "enabled" if enabled else "disabled"
    console.print(f"entry {entry_id} ({escape(label) or 'no label'}) {state}")


@app.command("enable")
def enable(entry_id: Annotated[str, typer.Argument(help="The entry's id.")]) -> None:
    """Enable an entry again."""
    _set_entry(entry_id, True)


@app.command("disable")
def disable(entry_id: Annotated[str, typer.Argument(help="The entry's id.")]) -> None:
    """Disable an entry: it stops matching and is kept."""
    _set_entry(entry_id, False)


@app.command("remove")
def remove(entry_id: Annotated[str, typer.Argument(help="The entry's id.")]) -> None:
    """Delete an entry for good (disable keeps it)."""
    with operator_session() as session:
        hashbanks.remove_entry(session, entry_id)
    console.print(f"removed entry {entry_id}")


def _print_match(match: hashbanks.HashMatch, max_frames: int) -> None:
    kind = "image (PDQ)" if match.kind == "pdq" else "video (vPDQ)"
    label = escape(match.label) or "no label"
    console.print(
        f"[bold]{escape(match.bank)}[/] entry {match.entry_id} ({label}), {kind}: "
        f"best distance {match.distance}; {match.query_match_percent:.1f}% of the query's "
        f"frames match, {match.target_match_percent:.1f}% of the entry's"
        + (f"; as {match.transform}" if match.transform else "")
        + (
            f"; {match.discounted_frames} frames discounted as benign"
            if match.discounted_frames
            else ""
        )
    )
    if match.suppressed_by:
        console.print(f"  suppressed by negative entries: {', '.join(match.suppressed_by)}")
    table = Table("query frame", "query s", "entry frame", "entry s", "distance", box=None)
    for pair in match.frames[:max_frames]:
        table.add_row(
            str(pair.query_frame),
            f"{pair.query_timestamp:.3f}",
            str(pair.target_frame),
            f"{pair.target_timestamp:.3f}",
            str(pair.distance),
        )
    console.print(table)
    if len(match.frames) > max_frames:
        console.print(f"  ... and {len(match.frames) - max_frames} more matching frames")


@app.command("match")
def match(
    video: Annotated[
        str | None, typer.Option(help="A platform video's id (its stored frame hashes).")
    ] = None,
    vpdq: Annotated[Path | None, typer.Option(help="A vPDQ text file.")] = None,
    file: Annotated[Path | None, typer.Option(help="An image or video file to hash.")] = None,
    pdq: Annotated[str | None, typer.Option(help="An image's PDQ hash: 64 hex digits.")] = None,
    rotations: Annotated[
        bool, typer.Option("--rotations", help="Images: match rotations and flips too.")
    ] = False,
    max_frames: Annotated[int, typer.Option(min=0, help="Matching frames printed per match.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """What a video, vPDQ file, image or video file matches in the enabled banks, with evidence."""
    chosen = _one_of(video=video, vpdq=vpdq, file=file, pdq=pdq)
    settings = get_settings().moderation
    thresholds: dict[str, Any] = {
        "distance_threshold": settings.hash_distance_threshold,
        "quality_threshold": settings.hash_quality_threshold,
    }
    percents: dict[str, Any] = {
        "min_query_percent": settings.hash_min_query_percent,
        "min_target_percent": settings.hash_min_target_percent,
    }
    with operator_session() as session:
        if chosen == "video":
            assert video is not None
            frames = hashbanks.video_frames(session, video)
            search = hashbanks.search_video(session, frames, **thresholds, **percents)
        elif chosen == "vpdq":
            assert vpdq is not None
            frames = hashbanks.parse_vpdq(_read(vpdq, "--vpdq"))
            search = hashbanks.search_video(session, frames, **thresholds, **percents)
        elif chosen == "pdq":
            assert pdq is not None
            search = hashbanks.search_image(session, pdq, **thresholds)
        else:
            assert file is not None
            search = hashbanks.search_file(
                session,
                file,
                rotations=rotations,
                interval_seconds=get_settings().media.hash_interval_seconds,
                **thresholds,
                **percents,
            )
    if as_json:
        print(json.dumps(search.to_json(max_frames=max_frames)))
    else:
        console.print(
            f"searched {search.entries_searched} entries ({search.frames_searched} frames) with "
            f"{search.query_frames} usable query frames"
            + (f", {search.skipped_frames} below quality" if search.skipped_frames else "")
            + f" in {search.seconds * 1000:.1f} ms"
        )
        for found in search.matches:
            _print_match(found, max_frames)
        if search.suppressed:
            console.print("[yellow]suppressed by negative banks:[/]")
            for found in search.suppressed:
                _print_match(found, max_frames)
        if search.negative and not search.suppressed:
            names = ", ".join(f"{m.bank}:{m.entry_id}" for m in search.negative)
            console.print(f"also matches negative (benign) entries: {escape(names)}")
        if not search.matches:
            console.print("no match in the positive banks")
