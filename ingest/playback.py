"""Signed playback links: what lets a player fetch a video's playlists, segments and images.

Players cannot attach a bearer token to every segment request, so the API hands out URLs signed
for one video and one viewer country until an expiry. Every request is still checked against the
video's state and the visibility table, so a removal takes effect on the next segment.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import posixpath
import re

from core.errors import AuthenticationError

PLAYBACK_LIFETIME = dt.timedelta(hours=6)
_COUNTRY = re.compile(r"^[A-Z]{2}$")

#: Content types of the files a video's folder holds, by suffix.
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".jpg": "image/jpeg",
    ".vtt": "text/vtt; charset=utf-8",
}


class PlaybackTokenError(AuthenticationError):
    code = "invalid_playback_token"


def _signature(secret: str, video_id: str, expires: int, country: str) -> str:
    mac = hmac.new(
        secret.encode(), f"play|{video_id}|{expires}|{country}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode().rstrip("=")


#: The "country" of a token signed for moderators: it plays a ready video whatever its
#: visibility, because reviewers must watch exactly the held and removed ones.
REVIEW = "REVIEW"


def sign(
    *, secret: str, video_id: str, country: str | None, now: dt.datetime | None = None
) -> tuple[str, dt.datetime]:
    """A playback token for one video as seen from ``country`` (``-`` when unknown)."""
    expires_at = (now or dt.datetime.now(dt.UTC)) + PLAYBACK_LIFETIME
    expires = int(expires_at.timestamp())
    where = (country or "-").upper()
    return f"{expires}.{where}.{_signature(secret, video_id, expires, where)}", expires_at


def verify(*, secret: str, video_id: str, token: str, now: dt.datetime | None = None) -> str | None:
    """The viewer country the token was signed for (None when unknown); raises when invalid."""
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        raise PlaybackTokenError("the playback token is malformed; get a new playback_url")
    expires, where, signature = int(parts[0]), parts[1], parts[2]
    if not hmac.compare_digest(signature, _signature(secret, video_id, expires, where)):
        raise PlaybackTokenError("the playback token is not valid for this video")
    if expires < (now or dt.datetime.now(dt.UTC)).timestamp():
        raise PlaybackTokenError("the playback token has expired; get a new playback_url")
    return None if where == "-" else where


def valid_country(country: str | None) -> str | None:
    if country is None:
        return None
    upper = country.upper()
    return upper if _COUNTRY.match(upper) else None


def content_type(path: str) -> str | None:
    """The content type served for a file of a video's folder, or None when it is not served."""
    return CONTENT_TYPES.get(posixpath.splitext(path)[1].lower())


def is_immutable(path: str) -> bool:
    """Segments and images never change under their name; playlists carry the token, so no."""
    return not path.endswith(".m3u8")


def sign_playlist(text: str, token: str) -> str:
    """The playlist with the token appended to every URI it references (relative URIs drop the
    query of the playlist they come from)."""

    def with_token(uri: str) -> str:
        return f"{uri}{'&' if '?' in uri else '?'}token={token}"

    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append(with_token(stripped))
        elif 'URI="' in line:
            out.append(re.sub(r'URI="([^"]+)"', lambda m: f'URI="{with_token(m.group(1))}"', line))
        else:
            out.append(line)
    return "\n".join(out) + "\n"
