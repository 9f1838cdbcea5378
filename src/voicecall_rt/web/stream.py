"""The media-stream WebSocket: admit the stream by its token, then hand it to the bridge."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web

from voicecall_rt.carrier.base import StreamCodec, StreamProtocolError, StreamStart
from voicecall_rt.carrier.link import CarrierLink
from voicecall_rt.store.errors import StoreError
from voicecall_rt.web.keys import CODEC, MANAGER

log = logging.getLogger(__name__)

START_TIMEOUT_S = 5.0
MAX_FRAME_BYTES = 64 * 1024
POLICY_VIOLATION = aiohttp.WSCloseCode.POLICY_VIOLATION


async def _read_start(
    ws: web.WebSocketResponse, codec: StreamCodec
) -> tuple[StreamStart, str] | None:
    """Skip greetings, return the start, read and as it came; None if the peer sends
    something else first."""
    async for message in ws:
        if message.type is not aiohttp.WSMsgType.TEXT:
            return None
        try:
            start = codec.read_start(message.data)
        except StreamProtocolError:
            return None
        if start is not None:
            return start, message.data
    return None


async def _refused_for_another(request: web.Request, token: str) -> bool:
    """Log a stream that came to this instance for a call another one owns (its token
    lives only there, so it cannot be bridged here); whether that was the case."""
    cluster = request.app[MANAGER].cluster
    call_id = token.partition(".")[0]
    if cluster.alone or not call_id:
        return False
    try:
        owner = await cluster.owner(call_id)
    except StoreError:
        return False  # the plain refusal is logged; who owns it is only a hint
    if owner is None or owner == cluster.instance_id:
        return False
    # The id came from the peer, but a live call has it: it is one of ours, safe to log.
    log.warning(
        "stream for call %s reached instance %s, owned by %s: refused",
        call_id,
        cluster.instance_id,
        owner,
    )
    return True


async def media_stream(request: web.Request) -> web.WebSocketResponse:
    codec = request.app[CODEC]
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME_BYTES, autoping=True, compress=False)
    await ws.prepare(request)
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            read = await _read_start(ws, codec)
    except TimeoutError:
        read = None
    bridge = None
    if read is not None:
        bridge = request.app[MANAGER].claim_stream(read[0].token, read[0])
    if bridge is None:
        if read is None or not await _refused_for_another(request, read[0].token):
            log.warning("media stream refused: no valid start with a valid token")
        await ws.close(code=POLICY_VIOLATION, message=b"invalid stream token")
        return ws
    assert read is not None
    start, message = read
    await bridge.run_carrier(CarrierLink(ws, request.transport), start, codec, message)
    return ws
