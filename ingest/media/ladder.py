"""The HLS ladder: which renditions a video gets (``plan_ladder``) and the FFmpeg command that
makes them all in one decode (``build_ladder_command``).

Rungs are named by their short edge ("720p" is 720x1280 for a portrait video and 1280x720 for a
landscape one): ``ladder_heights`` at or below the source's short edge, or, for a source smaller
than the smallest rung, one rung at the source's size (rounded down to even dimensions, which
4:2:0 H.264 needs). Dimensions follow the picture as shown: rotated, square pixels.

Video bit rate is ``width x height x fps x bits-per-pixel``, with the bits per pixel below
(quoted for 30 fps; small pictures need more bits per pixel for the same look, hence the
higher figures for low rungs), scaled by ``(fps / 30) ** 0.6`` (consecutive frames of a 60 fps
video differ less, so doubling the rate costs about 1.5x, not 2x), never above what the source
itself spends (re-encoding cannot add detail), and within [150 kb/s, 8 Mb/s]. x264 runs in ABR
mode with ``maxrate`` 1.5x and ``bufsize`` 2x the target, so segment peaks stay bounded.
The source cap scales with the rung's share of the source's pixels to the power 0.75, so the
rungs of a low-rate source still step down.

    short edge   bpp @30fps   e.g.
    >= 1080      0.090        1080x1920 -> 5.6 Mb/s
    >= 720       0.110        720x1280  -> 3.0 Mb/s
    >= 480       0.130        480x854   -> 1.6 Mb/s
    >= 360       0.150        360x640   -> 1.0 Mb/s
    smaller      0.170

Audio is AAC-LC, 128 kb/s on rungs of 720 and up, 96 kb/s at 480, 64 kb/s below; stereo at most,
resampled to 48 kHz when the source rate is not 44.1 or 48 kHz.

Frame rate: the source's, capped at 60 (a 120 fps phone clip is delivered at 60); the output is
constant-rate (an ``fps`` filter) so the GOP in frames is the GOP in seconds. Keyframes every
``keyframe_seconds`` on every rung (``-g``/``-keyint_min`` in frames, scene-cut keyframes off, and
``-force_key_frames`` by time), so all rungs switch at the same instants.

Segments are MPEG-TS, not fMP4: every HLS player reads them (old Android and smart-TV stacks
included), H.264+AAC needs nothing fMP4 adds (that is HEVC/AV1 or sharing segments with DASH),
and FFmpeg 5.1's fMP4 output with several variants needs per-variant init-file naming that
``var_stream_map`` handles poorly. The cost is ~5-8 % container overhead at low rates.

The one-pass command decodes once and ``split``s the frames to one scaler and one x264 encoder
per rung; a further branch sends the sampled frames (``frames.FrameSampling``) as raw RGB to
standard output for hashing, the thumbnail and the storyboard. FFmpeg applies the display
rotation itself (autorotate), before the split.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from core.settings import MediaSettings

from .errors import reject
from .frames import FrameSampling
from .probe import MediaInfo, VideoStream

logger = logging.getLogger(__name__)

FFMPEG = "ffmpeg"

#: (smallest short edge, bits per pixel at 30 fps), highest first.
BITS_PER_PIXEL: tuple[tuple[int, float], ...] = (
    (1080, 0.090),
    (720, 0.110),
    (480, 0.130),
    (360, 0.150),
    (0, 0.170),
)
FPS_EXPONENT = 0.6
MIN_VIDEO_BITRATE = 150_000
MAX_VIDEO_BITRATE = 8_000_000
MAXRATE_FACTOR = 1.5
BUFSIZE_FACTOR = 2.0
#: (smallest short edge, AAC bit rate), highest first.
AUDIO_BITRATES: tuple[tuple[int, int], ...] = ((720, 128_000), (480, 96_000), (0, 64_000))
MAX_OUTPUT_FPS = 60
AUDIO_SAMPLE_RATES = (44_100, 48_000)

MASTER_PLAYLIST = "master.m3u8"
RUNG_PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "segment_%05d.ts"
#: swscale flags of the rung scalers.
SCALE_FLAGS = "bicubic"


@dataclass(frozen=True)
class Rung:
    """One rendition of the ladder."""

    name: str
    width: int
    height: int
    video_bitrate: int
    maxrate: int
    bufsize: int
    #: None when the source has no audio.
    audio_bitrate: int | None
    #: Output frame rate, exact ("30000/1001", "60").
    frame_rate: str
    gop_frames: int

    @property
    def short_edge(self) -> int:
        return min(self.width, self.height)

    @property
    def fps(self) -> float:
        return float(Fraction(self.frame_rate))

    @property
    def playlist(self) -> str:
        """Path of the rung's media playlist, relative to the output directory."""
        return f"{self.name}/{RUNG_PLAYLIST}"


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _nearest_even(value: float) -> int:
    return max(2, round(value / 2) * 2)


def output_frame_rate(video: VideoStream) -> Fraction:
    """The ladder's constant frame rate: the source's, at most ``MAX_OUTPUT_FPS``."""
    rate = Fraction(video.frame_rate) if video.frame_rate else Fraction(video.fps)
    if rate <= 0 or (video.frame_rate_source == "guessed" and rate > MAX_OUTPUT_FPS):
        # No rate, or a container timebase (1000/s) standing in for one.
        rate = Fraction(30)
    rate = rate.limit_denominator(1001)
    return min(rate, Fraction(MAX_OUTPUT_FPS))


def video_bitrate(width: int, height: int, fps: float) -> int:
    """Target bit rate of a rung from the bits-per-pixel table (before the source cap)."""
    short = min(width, height)
    bpp = next(value for edge, value in BITS_PER_PIXEL if short >= edge)
    bits = width * height * 30 * bpp * (max(fps, 1.0) / 30) ** FPS_EXPONENT
    return int(min(max(bits, MIN_VIDEO_BITRATE), MAX_VIDEO_BITRATE))


def audio_bitrate(short_edge: int) -> int:
    return next(rate for edge, rate in AUDIO_BITRATES if short_edge >= edge)


def _source_video_bitrate(info: MediaInfo) -> int | None:
    assert info.video is not None
    if info.video.bit_rate:
        return info.video.bit_rate
    if info.bit_rate:
        audio = info.audio.bit_rate if info.audio and info.audio.bit_rate else 0
        return max(info.bit_rate - audio, 0) or None
    return None


def plan_ladder(info: MediaInfo, limits: MediaSettings) -> list[Rung]:
    """The rungs for ``info``, highest first (see the module docstring for the rules)."""
    video = info.video
    if video is None:
        raise reject("no_video_stream", "the file has no video stream")
    short = min(video.display_width, video.display_height)
    long = max(video.display_width, video.display_height)
    edges = sorted({edge for edge in limits.ladder_heights if 0 < edge <= short}, reverse=True)
    if not edges:
        edges = [short]
    rate = output_frame_rate(video)
    gop = max(1, round(float(rate) * limits.keyframe_seconds))
    source_bitrate = _source_video_bitrate(info)
    rungs = []
    for edge in edges:
        rung_short = _even(edge)
        rung_long = min(_nearest_even(rung_short * long / short), _even(long))
        if video.display_height > video.display_width:
            width, height = rung_short, rung_long
        else:
            width, height = rung_long, rung_short
        bitrate = video_bitrate(width, height, float(rate))
        if source_bitrate is not None:
            # The source's bits spread over fewer pixels: a smaller rung needs fewer of them.
            share = (width * height / (video.display_width * video.display_height)) ** 0.75
            bitrate = min(bitrate, max(int(source_bitrate * share), MIN_VIDEO_BITRATE))
        rungs.append(
            Rung(
                name=f"{rung_short}p",
                width=width,
                height=height,
                video_bitrate=bitrate,
                maxrate=int(bitrate * MAXRATE_FACTOR),
                bufsize=int(bitrate * BUFSIZE_FACTOR),
                audio_bitrate=audio_bitrate(rung_short) if info.audio is not None else None,
                frame_rate=_rate_text(rate),
                gop_frames=gop,
            )
        )
    return rungs


def _rate_text(rate: Fraction) -> str:
    return str(rate.numerator) if rate.denominator == 1 else f"{rate.numerator}/{rate.denominator}"


def _input_args(info: MediaInfo) -> list[str]:
    # file: + absolute path: a name starting with "-" or holding ":" stays a file name, and only
    # the file protocol is allowed for anything the input refers to.
    return ["-protocol_whitelist", "file", "-i", f"file:{Path(info.path).resolve()}"]


def _encoder_args(rungs: list[Rung], limits: MediaSettings, info: MediaInfo) -> list[str]:
    gop = rungs[0].gop_frames
    args = [
        "-c:v", "libx264",
        "-preset", limits.preset,
        "-g", str(gop),
        "-keyint_min", str(gop),
        "-sc_threshold", "0",
        "-force_key_frames", f"expr:gte(t,n_forced*{limits.keyframe_seconds:g})",
    ]  # fmt: skip
    for index, rung in enumerate(rungs):
        args += [
            f"-b:v:{index}", str(rung.video_bitrate),
            f"-maxrate:v:{index}", str(rung.maxrate),
            f"-bufsize:v:{index}", str(rung.bufsize),
        ]  # fmt: skip
    if info.audio is not None:
        args += ["-c:a", "aac"]
        if info.audio.channels > 2:
            args += ["-ac", "2"]
        if info.audio.sample_rate not in AUDIO_SAMPLE_RATES:
            args += ["-ar", "48000"]
        for index, rung in enumerate(rungs):
            args += [f"-b:a:{index}", str(rung.audio_bitrate)]
    # Uploads carry GPS positions and device names in their metadata; renditions carry none.
    args += ["-map_metadata", "-1", "-map_chapters", "-1", "-max_muxing_queue_size", "4096"]
    return args


def _hls_args(limits: MediaSettings) -> list[str]:
    return [
        "-f", "hls",
        "-hls_time", f"{limits.segment_seconds:g}",
        "-hls_playlist_type", "vod",
        "-hls_segment_type", "mpegts",
        "-hls_flags", "independent_segments",
    ]  # fmt: skip


def _scale_chain(rung: Rung) -> str:
    return f"scale={rung.width}:{rung.height}:flags={SCALE_FLAGS},setsar=1,format=yuv420p"


def build_ladder_command(
    info: MediaInfo,
    rungs: list[Rung],
    out_dir: Path,
    limits: MediaSettings,
    *,
    sampling: FrameSampling | None = None,
) -> list[str]:
    """One FFmpeg run that writes every rung (and, with ``sampling``, raw frames to stdout).

    Writes ``out_dir/master.m3u8`` and ``out_dir/<rung>/index.m3u8`` + segments; the rung
    folders are created by FFmpeg.
    """
    video = info.video
    if video is None or not rungs:
        raise reject("no_video_stream", "the file has no video stream")
    out = Path(out_dir).resolve()
    rate = rungs[0].frame_rate
    graph = []
    source = f"[0:{video.index}]"
    if sampling is not None:
        graph.append(f"{source}split=2[enc][sampled]")
        graph.append(f"[sampled]{sampling.filter_chain()}[frames]")
        source = "[enc]"
    names = [f"[r{index}]" for index in range(len(rungs))]
    if len(rungs) == 1:
        graph.append(f"{source}fps={rate},{_scale_chain(rungs[0])}[v0]")
    else:
        graph.append(f"{source}fps={rate},split={len(rungs)}{''.join(names)}")
        graph += [f"{names[i]}{_scale_chain(rung)}[v{i}]" for i, rung in enumerate(rungs)]
    argv = [FFMPEG, "-nostdin", "-hide_banner", "-nostats", "-v", "error", "-y"]
    argv += _input_args(info)
    argv += ["-filter_complex", ";".join(graph)]
    streams = []
    for index, rung in enumerate(rungs):
        argv += ["-map", f"[v{index}]"]
        if info.audio is not None:
            argv += ["-map", f"0:{info.audio.index}"]
            streams.append(f"v:{index},a:{index},name:{rung.name}")
        else:
            streams.append(f"v:{index},name:{rung.name}")
    argv += _encoder_args(rungs, limits, info)
    argv += _hls_args(limits)
    argv += [
        "-hls_segment_filename", str(out / "%v" / SEGMENT_PATTERN),
        "-master_pl_name", MASTER_PLAYLIST,
        "-var_stream_map", " ".join(streams),
        str(out / "%v" / RUNG_PLAYLIST),
    ]  # fmt: skip
    if sampling is not None:
        argv += [
            "-map", "[frames]",
            "-fps_mode", "passthrough",
            "-max_muxing_queue_size", "4096",
            "-f", "rawvideo",
            "pipe:1",
        ]  # fmt: skip
    return argv


def build_rung_command(
    info: MediaInfo, rung: Rung, out_dir: Path, limits: MediaSettings
) -> list[str]:
    """One FFmpeg run that writes one rung alone, with the ladder's settings (decodes again).

    The caller creates ``out_dir/<rung.name>/`` first: FFmpeg's HLS muxer does not.
    """
    video = info.video
    if video is None:
        raise reject("no_video_stream", "the file has no video stream")
    folder = Path(out_dir).resolve() / rung.name
    argv = [FFMPEG, "-nostdin", "-hide_banner", "-nostats", "-v", "error", "-y"]
    argv += _input_args(info)
    argv += ["-filter_complex", f"[0:{video.index}]fps={rung.frame_rate},{_scale_chain(rung)}[v0]"]
    argv += ["-map", "[v0]"]
    if info.audio is not None:
        argv += ["-map", f"0:{info.audio.index}"]
    argv += _encoder_args([rung], limits, info)
    argv += _hls_args(limits)
    argv += ["-hls_segment_filename", str(folder / SEGMENT_PATTERN), str(folder / RUNG_PLAYLIST)]
    return argv
