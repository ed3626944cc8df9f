"""Hash bank matching speed: one uploaded video's frame hashes against every banked frame.

    .venv/bin/python -m bench.hashbanks [--entries 167] [--frames-per-entry 60]
                                        [--query-frames 60] [--repeat 20] [--json]

Builds a positive bank of ``--entries`` random videos of ``--frames-per-entry`` frame hashes
(plus a negative bank a tenth of its size) in a fresh SQLite database, then matches a query of
``--query-frames`` frames against it: a near-duplicate of one banked video (8 bits flipped per
frame; padded with unrelated frames when the banked video is shorter). Reports: the index load
(reading and packing every enabled entry, done once per process and again only when the banks
change); ``match_video`` as the pipeline calls it (cache check plus search); the search alone;
and, for scale, the straightforward loop of ``ingest.media.match_videos`` over the entries. The
defaults are the issue's figure: a 60-frame video (one minute at the worker's one hash a second)
against about 10,000 banked frames.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from core.db import Database, upgrade
from ingest.media import FrameHash, match_videos
from moderation import hashbanks


def random_video(rng: np.random.Generator, frames: int) -> list[FrameHash]:
    return [FrameHash(i, 100, rng.bytes(32).hex(), float(i)) for i in range(frames)]


def near_duplicate(rng: np.random.Generator, video: list[FrameHash]) -> list[FrameHash]:
    """The same frames with 8 random bits flipped each (a re-encode's distance)."""
    out = []
    for frame in video:
        value = int(frame.pdq_hex, 16)
        for bit in rng.choice(256, size=8, replace=False):
            value ^= 1 << int(bit)
        out.append(FrameHash(frame.frame_number, 100, f"{value:064x}", frame.timestamp))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hashbanks", description=__doc__)
    parser.add_argument("--entries", type=int, default=167)
    parser.add_argument("--frames-per-entry", type=int, default=60)
    parser.add_argument("--query-frames", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    rng = np.random.default_rng(7)
    videos = [random_video(rng, args.frames_per_entry) for _ in range(args.entries)]
    benign = [random_video(rng, args.frames_per_entry) for _ in range(max(1, args.entries // 10))]
    query = near_duplicate(rng, videos[len(videos) // 2])[: args.query_frames]
    query += random_video(rng, args.query_frames - len(query))

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        database = Database(url)
        began = time.perf_counter()
        with database.session() as session:
            hashbanks.create_bank(session, "known-bad")
            hashbanks.create_bank(session, "benign", negative=True)
            for video in videos:
                hashbanks.add_entry(session, "known-bad", frames=video)
            for video in benign:
                hashbanks.add_entry(session, "benign", frames=video)
        added = time.perf_counter() - began
        with database.session() as session:
            began = time.perf_counter()
            index = hashbanks.bank_index(session)
            load = time.perf_counter() - began
            matched = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                found = hashbanks.match_video(session, query)
                matched.append(time.perf_counter() - began)
            alone = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                index.search_video(query)
                alone.append(time.perf_counter() - began)
        database.dispose()
    assert len(found) == 1, found
    naive_videos = videos[: min(len(videos), 200)]
    began = time.perf_counter()
    for video in naive_videos:
        match_videos(query, video)
    naive = (time.perf_counter() - began) * len(videos) / len(naive_videos)

    result = {
        "entries": len(videos) + len(benign),
        "bank_frames": index.frames,
        "query_frames": len(query),
        "add_entries_s": round(added, 3),
        "index_load_ms": round(load * 1000, 2),
        "match_video_ms_median": round(statistics.median(matched) * 1000, 3),
        "search_ms_median": round(statistics.median(alone) * 1000, 3),
        "naive_match_videos_loop_ms": round(naive * 1000, 1),
        "frame_pairs_per_s": round(len(query) * index.frames / statistics.median(alone)),
        "match_query_percent": round(found[0].query_match_percent, 1),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "numpy": np.__version__,
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"{result['query_frames']} query frames against {result['bank_frames']:,} banked "
        f"frames in {result['entries']:,} entries:\n"
        f"  index load (once per change)   {result['index_load_ms']:10.2f} ms\n"
        f"  match_video (cache check+search) {result['match_video_ms_median']:8.3f} ms median\n"
        f"  search alone                   {result['search_ms_median']:10.3f} ms median "
        f"({result['frame_pairs_per_s'] / 1e6:,.0f} M frame pairs/s)\n"
        f"  naive match_videos loop        {result['naive_match_videos_loop_ms']:10.1f} ms"
    )


if __name__ == "__main__":
    main()
