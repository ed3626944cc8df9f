"""Bus handlers of the ingest room: the media worker on ``video.uploaded``."""

from __future__ import annotations

import asyncio

from core.bus import Message
from core.bus.runner import Consumer
from core.runtime import Services

from .processing import process_video

MEDIA_GROUP = "media"


def media_consumers(services: Services) -> list[Consumer]:
    """One consumer of ``video.uploaded``; run more workers to transcode in parallel."""

    async def handle(message: Message) -> None:
        event = await asyncio.to_thread(
            process_video,
            db=services.db,
            store=services.store,
            settings=services.settings,
            video_id=str(message.payload["video_id"]),
            attempt=message.attempt,
            reprocess=bool(message.payload.get("reprocess", False)),
        )
        if event is not None:
            await services.bus.publish("video.transcoded", event, key=event["video_id"])

    return [Consumer("video.uploaded", MEDIA_GROUP, handle, name="media")]
