"""Transcode benchmark: Vigil's one-pass HLS ladder against one FFmpeg process per rung.

    .venv/bin/python -m bench.transcode [--duration 30] [--size 1080x1920] [--repeat 1]
                                        [--preset veryfast]

Generates a portrait test clip (lavfi ``testsrc2`` with moving parts, light temporal noise as a
camera would add, a sine tone; H.264 at ~10 Mb/s like a phone upload) in a temporary directory,
then, with the same ladder and x264 settings:

(a) the bare one-pass ladder command (one decode, ``split`` to every rung, no frame pipe);
(b) one FFmpeg process per rung, one after the other (as PeerTube does);
(c) Vigil's whole ``ingest.media.process``: probe, validation, the one-pass ladder with the raw
    frame branch, PDQ hashes, thumbnail, storyboard, master playlist rewrite;
(d) copying (c)'s output directory into a ``core.storage`` local object store (what the worker
    does next; fsync per object).

Each scenario runs ``--repeat`` times, interleaved, and the median is reported. "x realtime"
is seconds of video per second of wall time. CPU seconds are user+system time of this process
and its children: on a shared machine they move much less than wall time when something else
runs, so the ratios are given both ways. Prints a table and a markdown block for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from core.settings import MediaSettings
from core.storage import LocalObjectStore
from ingest.media import (
    MediaInfo,
    ProcessResult,
    Rung,
    build_ladder_command,
    build_rung_command,
    plan_ladder,
    probe,
    process,
)

console = Console()

#: Targets the one-pass design is meant to meet.
TARGET_PER_RUNG_OVER_ONE_PASS = 1.3
TARGET_PIPELINE_OVER_BARE = 1.25


@dataclass
class Run:
    wall: float
    cpu: float
    notes: dict[str, float] = field(default_factory=dict)


@dataclass
class Row:
    scenario: str
    runs: list[Run]
    note: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(run.wall for run in self.runs)

    @property
    def cpu(self) -> float:
        return statistics.median(run.cpu for run in self.runs)

    def median_note(self, key: str) -> float:
        return statistics.median(run.notes[key] for run in self.runs)


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(work: Callable[[], dict[str, float] | None]) -> Run:
    cpu = cpu_seconds()
    started = time.perf_counter()
    notes = work() or {}
    return Run(time.perf_counter() - started, cpu_seconds() - cpu, notes)


def make_source(path: Path, *, size: str, duration: float, fps: int) -> None:
    graph = f"testsrc2=size={size}:rate={fps}:duration={duration},noise=alls=6:allf=t"
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y",
            "-f", "lavfi", "-i", graph,
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={duration}",
            "-c:v", "libx264", "-preset", "superfast", "-pix_fmt", "yuv420p",
            "-b:v", "10M", "-maxrate", "12M", "-bufsize", "20M",
            "-c:a", "aac", "-b:a", "128k", "-shortest", "-movflags", "+faststart",
            str(path),
        ],
        check=True,
        timeout=900,
    )  # fmt: skip


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    return folder


def one_pass(info: MediaInfo, rungs: list[Rung], out: Path, limits: MediaSettings) -> None:
    subprocess.run(build_ladder_command(info, rungs, fresh(out), limits), check=True)


def per_rung(
    info: MediaInfo, rungs: list[Rung], out: Path, limits: MediaSettings
) -> dict[str, float]:
    fresh(out)
    seconds = {}
    for rung in rungs:
        (out / rung.name).mkdir(parents=True)
        started = time.perf_counter()
        subprocess.run(build_rung_command(info, rung, out, limits), check=True)
        seconds[rung.name] = time.perf_counter() - started
    return seconds


def pipeline(source: Path, out: Path, limits: MediaSettings, keep: list[ProcessResult]) -> None:
    keep.append(process(source, fresh(out), limits))


def store_copy(out: Path, root: Path) -> dict[str, float]:
    store = LocalObjectStore(fresh(root))
    files = sorted(path for path in out.rglob("*") if path.is_file())
    size = 0
    for path in files:
        with path.open("rb") as data:
            size += store.put(f"videos/bench/{path.relative_to(out).as_posix()}", data).size
    return {"files": len(files), "bytes": size}


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ffmpeg = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False)
    version = ffmpeg.stdout.split("\n", 1)[0].removeprefix("ffmpeg version ").split(" ")[0]
    return f"{os.cpu_count()} CPUs ({cpu}), FFmpeg {version}, Python {platform.python_version()}"


def report(rows: list[Row], *, duration: float, rungs: list[Rung], argv: list[str]) -> None:
    bare, separate, vigil = rows[0], rows[1], rows[2]
    table = Table("scenario", "wall s", "CPU s", "x realtime", "notes")
    for row in rows:
        table.add_row(
            row.scenario,
            f"{row.wall:.2f}",
            f"{row.cpu:.1f}",
            f"{duration / row.wall:.2f}" if row.wall else "",
            row.note,
        )
    console.print(table)
    split_ratio = separate.wall / bare.wall
    overhead_ratio = vigil.wall / bare.wall
    split_met = split_ratio >= TARGET_PER_RUNG_OVER_ONE_PASS
    overhead_met = overhead_ratio <= TARGET_PIPELINE_OVER_BARE
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ladder = ", ".join(
        f"{rung.name} {rung.width}x{rung.height} {rung.video_bitrate / 1e6:.1f} Mb/s"
        for rung in rungs
    )
    lines = [
        f"Command: `.venv/bin/python -m bench.transcode {' '.join(argv)}`".replace(" `", "`", 0),
        f"Machine: {machine()}; {when}",
        f"Ladder: {ladder}",
        "",
        "| scenario | wall s | CPU s | x realtime | notes |",
        "|---|---:|---:|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.scenario} | {row.wall:.2f} | {row.cpu:.1f} | "
            f"{duration / row.wall:.2f} | {row.note} |"
        )
    lines += [
        "",
        "| ratio | wall | CPU | target (wall) | |",
        "|---|---:|---:|---:|---|",
        f"| (b) per-rung / (a) one-pass | {split_ratio:.2f}x | {separate.cpu / bare.cpu:.2f}x "
        f"| >= {TARGET_PER_RUNG_OVER_ONE_PASS}x | {'met' if split_met else 'missed'} |",
        f"| (c) pipeline / (a) bare one-pass | {overhead_ratio:.2f}x | {vigil.cpu / bare.cpu:.2f}x "
        f"| <= {TARGET_PIPELINE_OVER_BARE}x | {'met' if overhead_met else 'missed'} |",
    ]
    print("\n" + "\n".join(lines))
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1) + 0.5:
        print(f"\nWarning: load average {load:.1f} at the end: other work shared the CPUs.")


def main(args: argparse.Namespace, argv: list[str]) -> None:
    width, _, height = args.size.partition("x")
    limits = MediaSettings(preset=args.preset)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-transcode-") as directory:
        work = Path(directory)
        source = work / "source.mp4"
        console.print(f"generating a {args.duration:g} s {args.size} {args.fps} fps source...")
        make_source(source, size=f"{int(width)}x{int(height)}", duration=args.duration,
                    fps=args.fps)  # fmt: skip
        info = probe(source, timeout=60)
        rungs = plan_ladder(info, limits)
        duration = info.duration or args.duration
        bare, separate, vigil, copy = [], [], [], []
        results: list[ProcessResult] = []
        for attempt in range(args.repeat):
            console.print(f"run {attempt + 1}/{args.repeat}: one-pass, per-rung, pipeline, store")
            bare.append(measure(lambda: one_pass(info, rungs, work / "a", limits)))
            separate.append(measure(lambda: per_rung(info, rungs, work / "b", limits)))
            vigil.append(measure(lambda: pipeline(source, work / "c", limits, results)))
            copy.append(measure(lambda: store_copy(work / "c", work / "store")))
        per_rung_note = ", ".join(
            f"{rung.name} {statistics.median(run.notes[rung.name] for run in separate):.1f} s"
            for rung in rungs
        )
        last = results[-1]
        timings = last.timings
        rows = [
            Row(f"(a) one-pass ladder, bare (1 decode, {len(rungs)} encoders)", bare,
                "no frame pipe"),
            Row("(b) one FFmpeg per rung, sequential", separate, per_rung_note),
            Row("(c) Vigil pipeline.process", vigil,
                f"probe {timings.probe_s:.2f} s, encode {timings.encode_s:.1f} s (hashing "
                f"{timings.hash_s:.2f} s and artefacts {timings.artefacts_s:.2f} s overlap it), "
                f"finalize {timings.finalize_s:.2f} s; {len(last.frame_hashes)} PDQ hashes at "
                f"{last.info.video.upright_width if last.info.video else 0}px wide"),
            Row("(d) copy (c)'s output into a local ObjectStore", copy,
                f"{int(copy[-1].notes['files'])} files, {copy[-1].notes['bytes'] / 1e6:.1f} MB"),
        ]  # fmt: skip
    report(rows, duration=duration, rungs=rungs, argv=argv)


def cli() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.transcode", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of source video")
    parser.add_argument("--size", default="1080x1920", help="source WIDTHxHEIGHT")
    parser.add_argument("--fps", type=int, default=30, help="source frame rate")
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario (median)")
    parser.add_argument(
        "--preset", default=MediaSettings().preset, help="x264 preset of every scenario"
    )
    args = parser.parse_args()
    main(args, sys.argv[1:])


if __name__ == "__main__":
    cli()
