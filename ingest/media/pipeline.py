"""From an uploaded file to everything the platform serves and the moderators match on.

``process(source, out_dir, limits)``: sniff -> probe -> validate -> plan the ladder -> one FFmpeg
run that decodes once and writes every HLS rung while sending sampled frames as raw RGB on its
standard output -> (meanwhile, in this process) PDQ hashes, thumbnail candidates and storyboard
tiles from those frames -> thumbnails, storyboard index, hash file, master playlist rewritten
with measured bandwidth and codec strings -> a last check that the renditions last as long as
the file says it does (a truncated WebM or MKV decodes without an error, just shorter).

Files under ``out_dir`` (names are fixed, so reprocessing yields the same names)::

    master.m3u8                        the master playlist
    <N>p/index.m3u8, <N>p/segment_*.ts one folder per rung, N = its short edge
    thumbnail_720.jpg, thumbnail_240.jpg
    storyboard_000.jpg ..., storyboard.vtt
    vpdq.txt                           frame hashes in vPDQ's text form

``out_dir`` must be empty or absent. Nothing is written outside it (frames travel by pipe, not
temporary files), and on any failure (a rejection, a timeout, a crash, an interrupt) what was
written is removed again and the FFmpeg process group is killed.

Per-rung encode seconds are not reported: in the one-pass run all encoders share one process
and its threads, and FFmpeg's ``-benchmark_all`` figures are process-wide CPU time, so any split
per rung would be invented. The benchmark (``bench/transcode.py``) times one process per rung.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.settings import MediaSettings

from .artefacts import Storyboard, StoryboardWriter, Thumbnail, ThumbnailChoice, ThumbnailPicker
from .errors import MediaProcessingError, reject
from .frames import FrameSampling, read_frames
from .hashing import FrameHash, format_vpdq_lines, hash_frame
from .hls import AAC_LC_CODEC, Variant, h264_codec_string, read_media_playlist
from .hls import write_master_playlist as _write_master
from .ladder import MASTER_PLAYLIST, Rung, build_ladder_command, plan_ladder
from .probe import MediaInfo, probe
from .runner import ToolProcess, ToolResult
from .validation import check_size, sniff, validate

logger = logging.getLogger(__name__)

HASHES_NAME = "vpdq.txt"
#: A video is complete when its renditions last at least this share of the declared duration
#: (minus the slack): container durations and the last segment's rounding differ a little.
COMPLETE_SHARE = 0.9
COMPLETE_SLACK_SECONDS = 0.5
#: Seconds allowed for each small FFmpeg run after the encode (reading a rung's codec string).
CODEC_PROBE_TIMEOUT = 30.0


@dataclass(frozen=True)
class RungOutput:
    """One rendition as written: its settings and what its segments measure."""

    name: str
    width: int
    height: int
    frame_rate: str
    video_bitrate: int
    audio_bitrate: int | None
    #: Peak segment bit rate (the master playlist's BANDWIDTH), bits per second.
    bandwidth: int
    average_bandwidth: int
    codecs: str
    #: The rung's media playlist, relative to ``out_dir``.
    playlist: str
    segments: int
    bytes: int
    duration: float


@dataclass(frozen=True)
class Timings:
    """Where the seconds went. ``hash_s`` and most of ``artefacts_s`` overlap ``encode_s``:
    frames are hashed and tiled while FFmpeg encodes."""

    probe_s: float
    encode_s: float
    hash_s: float
    artefacts_s: float
    finalize_s: float
    total_s: float


@dataclass(frozen=True)
class ProcessResult:
    """Everything ``process`` made, with paths relative to ``out_dir``."""

    info: MediaInfo
    rungs: tuple[RungOutput, ...]
    master_playlist: str
    thumbnails: tuple[Thumbnail, ...]
    thumbnail_choice: ThumbnailChoice | None
    storyboard: Storyboard
    frame_hashes: tuple[FrameHash, ...]
    hashes_file: str
    #: Sampled frames received from FFmpeg (hashed, storyboard or both).
    frames_sampled: int
    timings: Timings
    #: Seconds of video per second of processing (``duration / total_s``); above 1 is faster
    #: than real time.
    realtime_factor: float

    def files(self) -> list[str]:
        """Every file written, relative to ``out_dir`` (segments listed via their playlists)."""
        names = [self.master_playlist, self.hashes_file, self.storyboard.vtt]
        names += [thumbnail.path for thumbnail in self.thumbnails]
        names += list(self.storyboard.sheets)
        for rung in self.rungs:
            names.append(rung.playlist)
        return names

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (hashes as vPDQ lines, to keep it compact)."""
        data = asdict(self)
        data["info"] = self.info.to_dict()
        data["frame_hashes"] = [frame.to_line() for frame in self.frame_hashes]
        return data


def process(source_path: Path | str, out_dir: Path | str, limits: MediaSettings) -> ProcessResult:
    """Validate an upload and make its HLS ladder, thumbnails, storyboard and frame hashes.

    Raises a ``MediaRejection`` for a file that is refused (its class gives the HTTP status,
    its ``reason`` the rule), ``MediaProcessingError`` when our side fails (``reason="timeout"``
    when FFmpeg runs past ``limits.process_timeout_seconds``). ``out_dir`` is left empty (or
    absent, if it was) after any failure.
    """
    started = time.perf_counter()
    source = Path(source_path).resolve()
    out = Path(out_dir).resolve()
    created = _claim_out_dir(out)
    try:
        return _process(source, out, limits, started)
    except BaseException:
        _discard(out, remove_dir=created)
        raise


def _claim_out_dir(out: Path) -> bool:
    """Create ``out`` (True) or check that it is empty (False)."""
    if out.exists():
        if not out.is_dir() or any(out.iterdir()):
            raise MediaProcessingError(
                "out_dir_not_empty",
                f"the output directory {out} exists and is not empty; give each job its own",
                transient=False,
                details={"out_dir": str(out)},
            )
        return False
    out.mkdir(parents=True)
    return True


def _discard(out: Path, *, remove_dir: bool) -> None:
    if not out.exists():
        return
    if remove_dir:
        shutil.rmtree(out, ignore_errors=True)
        return
    for child in out.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _process(source: Path, out: Path, limits: MediaSettings, started: float) -> ProcessResult:
    sniff(source)
    check_size(source.stat().st_size, limits)
    info = probe(source, timeout=limits.probe_timeout_seconds)
    validate(info, limits)
    video = info.video
    assert video is not None  # validate refuses files without video
    rungs = plan_ladder(info, limits)
    probed = time.perf_counter()

    sampling = FrameSampling.for_video(
        video,
        hash_interval_seconds=limits.hash_interval_seconds,
        storyboard_interval_seconds=limits.storyboard_interval_seconds,
    )
    display_size = (video.display_width, video.display_height)
    picker = ThumbnailPicker(info.duration)
    storyboard = StoryboardWriter(
        out,
        display_size=display_size,
        duration=info.duration,
        interval_seconds=limits.storyboard_interval_seconds,
    )
    argv = build_ladder_command(info, rungs, out, limits, sampling=sampling)
    logger.info(
        "encoding %s: %dx%d %.2f fps %.1f s -> %s",
        source.name,
        video.display_width,
        video.display_height,
        video.fps,
        info.duration or 0.0,
        ", ".join(rung.name for rung in rungs),
    )
    hashes: list[FrameHash] = []
    hash_seconds = artefact_seconds = 0.0
    frames = 0
    with ToolProcess(
        argv, timeout=limits.process_timeout_seconds, what="ffmpeg (ladder)", cwd=out
    ) as encoder:
        for frame in read_frames(encoder.stdout, sampling):
            frames += 1
            tick = time.perf_counter()
            if sampling.is_hashed(frame.number):
                pdq, quality = hash_frame(frame.image)
                hashes.append(FrameHash(frame.number, quality, pdq, round(frame.timestamp, 3)))
            else:
                # A storyboard-only frame: its PDQ quality still says whether it is sharp
                # enough to be the thumbnail, but its hash is not vPDQ's sampling.
                quality = hash_frame(frame.image)[1]
            tock = time.perf_counter()
            hash_seconds += tock - tick
            picker.offer(frame, quality)
            if sampling.is_storyboard(frame.number):
                storyboard.add(frame)
            artefact_seconds += time.perf_counter() - tock
        result = encoder.finish()
    encoded = time.perf_counter()
    _check_encode(result, frames, source)

    tick = time.perf_counter()
    choice, thumbnails = picker.write(out, display_size)
    board = storyboard.finish()
    artefact_seconds += time.perf_counter() - tick
    (out / HASHES_NAME).write_text(format_vpdq_lines(hashes))
    outputs = _finish_playlists(out, rungs, has_audio=info.audio is not None)
    _check_complete(info, outputs[0].duration)
    finished = time.perf_counter()

    total = finished - started
    duration = info.duration or (frames / video.fps if video.fps else 0.0)
    return ProcessResult(
        info=info,
        rungs=tuple(outputs),
        master_playlist=MASTER_PLAYLIST,
        thumbnails=tuple(thumbnails),
        thumbnail_choice=choice,
        storyboard=board,
        frame_hashes=tuple(hashes),
        hashes_file=HASHES_NAME,
        frames_sampled=frames,
        timings=Timings(
            probe_s=round(probed - started, 4),
            encode_s=round(encoded - probed, 4),
            hash_s=round(hash_seconds, 4),
            artefacts_s=round(artefact_seconds, 4),
            finalize_s=round(finished - encoded, 4),
            total_s=round(total, 4),
        ),
        realtime_factor=round(duration / total, 3) if total > 0 else 0.0,
    )


def _check_complete(info: MediaInfo, encoded: float) -> None:
    """Refuse a file whose media stops well before the duration its header declares.

    Catches truncated uploads in containers whose header does not say where the data ends
    (WebM, MKV, MPEG-TS): FFmpeg decodes what is there and stops without an error.
    """
    declared = info.duration
    if declared and encoded < declared * COMPLETE_SHARE - COMPLETE_SLACK_SECONDS:
        raise reject(
            "truncated",
            f"the file declares {declared:.1f} s of video but only {encoded:.1f} s could be "
            "decoded (is the upload complete?)",
            limit=round(declared, 3),
            measured=round(encoded, 3),
        )


def _check_encode(result: ToolResult, frames: int, source: Path) -> None:
    """Turn a failed FFmpeg exit into the right error: the file's fault or ours."""
    if result.returncode == 0 and frames > 0:
        return
    said = "; ".join(result.stderr.splitlines()[-3:]) or f"exit status {result.returncode}"
    details = {"returncode": result.returncode, "stderr": result.stderr[-2000:]}
    if result.returncode < 0:
        raise MediaProcessingError(
            "ffmpeg_crashed",
            f"ffmpeg was killed by signal {-result.returncode} encoding {source.name}",
            transient=True,
            details=details,
        )
    if "No space left on device" in result.stderr:
        raise MediaProcessingError(
            "disk_full", f"the disk filled up encoding {source.name}", transient=True,
            details=details,
        )  # fmt: skip
    if frames == 0:
        raise reject(
            "undecodable",
            f"FFmpeg could not decode a single video frame of the file: {said}",
            details=details,
        )
    raise MediaProcessingError(
        "ffmpeg_failed",
        f"ffmpeg failed encoding {source.name}, which had passed validation: {said}",
        transient=False,
        details=details,
    )


def _finish_playlists(out: Path, rungs: list[Rung], *, has_audio: bool) -> list[RungOutput]:
    """Measure each rung's segments, read its codec string, and rewrite the master playlist."""
    outputs = []
    variants = []
    for rung in rungs:
        playlist = out / rung.playlist
        if not playlist.is_file():
            raise MediaProcessingError(
                "rung_missing",
                f"ffmpeg exited cleanly but wrote no playlist for rung {rung.name}",
                transient=False,
                details={"rung": rung.name},
            )
        stats = read_media_playlist(playlist)
        if not stats.segments:
            raise MediaProcessingError(
                "rung_empty",
                f"the playlist of rung {rung.name} lists no segments",
                transient=False,
                details={"rung": rung.name},
            )
        codec = h264_codec_string(
            playlist.parent / stats.segments[0].uri, timeout=CODEC_PROBE_TIMEOUT
        )
        codecs = f"{codec},{AAC_LC_CODEC}" if has_audio else codec
        variants.append(
            Variant(
                uri=rung.playlist,
                bandwidth=stats.peak_bandwidth,
                average_bandwidth=stats.average_bandwidth,
                width=rung.width,
                height=rung.height,
                frame_rate=rung.fps,
                codecs=codecs,
            )
        )
        outputs.append(
            RungOutput(
                name=rung.name,
                width=rung.width,
                height=rung.height,
                frame_rate=rung.frame_rate,
                video_bitrate=rung.video_bitrate,
                audio_bitrate=rung.audio_bitrate,
                bandwidth=stats.peak_bandwidth,
                average_bandwidth=stats.average_bandwidth,
                codecs=codecs,
                playlist=rung.playlist,
                segments=len(stats.segments),
                bytes=stats.size,
                duration=round(stats.duration, 3),
            )
        )
    _write_master(out / MASTER_PLAYLIST, variants)
    return outputs
