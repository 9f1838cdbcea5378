"""Talking to our server the way Twilio does, by hand: signed webhooks and a media stream.

The fake carrier does all of this for whole calls; tests that need to send something
Twilio never would (a bad signature, a stolen token, a malformed frame) use these instead.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import xml.etree.ElementTree as ET
from typing import Any

import aiohttp
import orjson
from twilio.request_validator import SIGNATURE_HEADER

from voicecall_rt.carrier.twilio.wire import (
    TOKEN_PARAMETER,
    carrier_connected,
    carrier_media,
    carrier_start,
    carrier_stop,
)
from voicecall_rt.simulator.signing import SharedKey, signature_headers
from voicecall_rt.simulator.twilio.fake import ACCOUNT_SID, AUTH_TOKEN
from voicecall_rt.simulator.twilio.webhooks import call_params
from voicecall_rt.simulator.world import FROM_NUMBER, PUBLIC_URL, SimWorld

STREAM_PATH = "/voice/realtime-stream"
SILENCE = base64.b64encode(b"\xff" * 160).decode()


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """`X-Twilio-Signature` for a POST of `params` to `url` (docs/protocols.md §4.3)."""
    return signature_headers(url, params, auth_token=token)[SIGNATURE_HEADER]


def new_call_sid() -> str:
    return "CA" + secrets.token_hex(16)


def new_stream_sid() -> str:
    return "MZ" + secrets.token_hex(16)


def inbound_params(call_sid: str, caller: str = "+14155550177") -> dict[str, str]:
    """What Twilio posts to the Voice URL when someone dials our number."""
    return call_params(
        account_sid=ACCOUNT_SID,
        call_sid=call_sid,
        status="ringing",
        from_=caller,
        to=FROM_NUMBER,
        direction="inbound",
    )


async def post(
    http: aiohttp.ClientSession,
    world: SimWorld,
    path: str,
    params: dict[str, str],
    signature: str | None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str]:
    """POST a form to our server's loopback address; `signature=None` sends no signature
    header; `headers` are added as they are (e.g. X-Twilio-Webhooks-Signature-Settings)."""
    sent = dict(headers or {})
    if signature is not None:
        sent[SIGNATURE_HEADER] = signature
    async with http.post(world.server.local_url + path, data=params, headers=sent) as response:
        return response.status, await response.text()


async def post_signed(
    http: aiohttp.ClientSession,
    world: SimWorld,
    path: str,
    params: dict[str, str],
    shared_key: SharedKey | None = None,
) -> tuple[int, str]:
    """POST signed correctly: over the public URL, as a tunnel delivers it; with the Auth
    Token, or with `shared_key` as a Twilio Webhook Setting would sign it."""
    headers = signature_headers(
        PUBLIC_URL + path, params, auth_token=AUTH_TOKEN, shared_key=shared_key
    )
    return await post(http, world, path, params, None, headers)


def stream_token(twiml: str) -> str:
    """The `call_token` parameter of the `<Connect><Stream>` in a TwiML answer."""
    root = ET.fromstring(twiml)
    for parameter in root.iter("Parameter"):
        if parameter.get("name") == TOKEN_PARAMETER:
            return parameter.get("value", "")
    raise AssertionError(f"no call_token in {twiml}")


def verbs(twiml: str) -> list[str]:
    return [child.tag for child in ET.fromstring(twiml)]


async def answer_inbound(
    http: aiohttp.ClientSession,
    world: SimWorld,
    call_sid: str,
    caller: str = "+14155550177",
    shared_key: SharedKey | None = None,
) -> str:
    """Deliver a signed inbound answer webhook; returns the stream token of the TwiML."""
    params = inbound_params(call_sid, caller)
    status, body = await post_signed(http, world, "/voice/answer", params, shared_key)
    assert status == 200, (status, body)
    assert verbs(body) == ["Connect"], body
    return stream_token(body)


async def call_id_for(world: SimWorld, call_sid: str) -> str:
    """Our call id for the carrier's CallSid, from the local API."""
    status, data = await world.api("GET", "/api/calls")
    assert status == 200
    for call in data["calls"]:
        if call["carrier_sid"] == call_sid:
            return str(call["id"])
    raise AssertionError(f"no call with CallSid {call_sid}: {data}")


class StreamClient:
    """One media-stream WebSocket to our server, driven message by message."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.stream_sid = new_stream_sid()
        self._seq = 0

    @classmethod
    async def connect(cls, http: aiohttp.ClientSession, world: SimWorld) -> StreamClient:
        ws = await http.ws_connect(world.server.local_url + STREAM_PATH, autoping=True)
        return cls(ws)

    def _next(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send_str(orjson.dumps(message).decode())

    async def connected(self) -> None:
        await self.send(carrier_connected())

    async def start(self, call_sid: str, token: str | None) -> None:
        custom = {} if token is None else {TOKEN_PARAMETER: token}
        await self.send(
            carrier_start(
                self._next(),
                self.stream_sid,
                account_sid=ACCOUNT_SID,
                call_sid=call_sid,
                parameters=custom,
            )
        )

    async def open(self, call_sid: str, token: str | None) -> None:
        await self.connected()
        await self.start(call_sid, token)

    async def media(self, payload: str) -> None:
        seq = self._next()
        await self.send(
            carrier_media(seq, self.stream_sid, chunk=seq, timestamp="0", payload=payload)
        )

    async def stop(self, call_sid: str) -> None:
        await self.send(
            carrier_stop(self._next(), self.stream_sid, account_sid=ACCOUNT_SID, call_sid=call_sid)
        )

    async def close_code(self, timeout_s: float = 5.0) -> int | None:
        """Read (and drop) whatever the server sends until it closes; its close code."""
        async with asyncio.timeout(timeout_s):
            while True:
                message = await self.ws.receive()
                if message.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                    aiohttp.WSMsgType.ERROR,
                ):
                    break
        await self.ws.close()
        return self.ws.close_code


def payload(fill: int) -> str:
    """A 20 ms frame of one repeated µ-law byte: a recognisable, valid media payload."""
    return base64.b64encode(bytes([fill]) * 160).decode()
