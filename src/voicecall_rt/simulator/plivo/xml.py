"""The fake Plivo's XML interpreter: `<Stream>`, `<Speak>`, `<Wait>`, `<Hangup>` and a
transfer's `<Dial><Number>`.

As strict as Plivo's `<Stream>` where our server could get away with something:

* the URL (the element's text) must be `wss://`;
* `contentType` must be one Plivo knows; left out, it is Plivo's default
  `audio/x-l16;rate=8000`, and the stream then carries L16 (its `start` says so), which our
  µ-law is not: our server must refuse that stream, and the call's errors say why;
* `bidirectional="true"` needs `audioTrack="inbound"`; without `bidirectional` our audio is
  not played (`SimCall.protocol_errors`);
* `extraHeaders` must be `key=value` pairs of `[A-Za-z0-9]` within 512 bytes;
* without `keepCallAlive="true"` Plivo goes on with the next element at once, so a
  `<Stream>` ending the document ends the call as soon as it starts.

Anything else Plivo XML has is recorded in `SimCall.unsupported` and ends the call.
"""

from __future__ import annotations

import asyncio
import logging
import re
import xml.etree.ElementTree as ET
from functools import partial
from typing import Final, Literal, Protocol
from urllib.parse import urlsplit

from voicecall_rt.simulator.plivo.media_stream import PlivoStream
from voicecall_rt.simulator.plivo.webhooks import WebhookClient
from voicecall_rt.simulator.sim_call import SimCall, TransferDial
from voicecall_rt.simulator.tasks import Spawn

__all__ = ["CONTENT_TYPES", "XmlHost", "XmlInterpreter"]

logger = logging.getLogger(__name__)

# Plivo's `<Stream contentType>` values, as (encoding, sample rate) in its `start`.
CONTENT_TYPES: Final = {
    "audio/x-l16;rate=8000": ("audio/x-l16", 8000),
    "audio/x-l16;rate=16000": ("audio/x-l16", 16000),
    "audio/x-mulaw;rate=8000": ("audio/x-mulaw", 8000),
}
DEFAULT_CONTENT_TYPE: Final = "audio/x-l16;rate=8000"
_EXTRA_PAIR: Final = re.compile(r"[A-Za-z0-9]+=[A-Za-z0-9]+")
_EXTRA_MAX_BYTES: Final = 512

Outcome = Literal["next", "ended"]


class XmlHost(Protocol):
    """What the interpreter asks of the carrier."""

    auth_id: str
    detect_dtmf: bool
    owned_numbers: tuple[str, ...]

    async def answer(self, call: SimCall) -> None: ...

    def end_call(self, call: SimCall, final: str) -> asyncio.Task[None]: ...


class XmlInterpreter:
    """Runs the answer XML of a call, element by element."""

    def __init__(self, host: XmlHost, client: WebhookClient, *, spawn: Spawn) -> None:
        self._host = host
        self._client = client
        self._spawn = spawn

    async def run(self, call: SimCall, document: str | None) -> None:
        host = self._host
        if document is None:
            host.end_call(call, "completed" if call.answered else "failed")
            return
        try:
            # The XML comes from our own server; expat does not resolve external entities.
            root = ET.fromstring(document)  # noqa: S314
        except ET.ParseError as exc:
            call.errors.append(f"answer XML is not XML: {exc}")
            host.end_call(call, "completed" if call.answered else "failed")
            return
        if root.tag != "Response":
            call.errors.append(f"answer XML root is <{root.tag}>, not <Response>")
            host.end_call(call, "completed" if call.answered else "failed")
            return
        for element in root:
            if await self._run_element(call, element) == "ended":
                return
        host.end_call(call, "completed")  # the document ran out: Plivo hangs up

    async def _run_element(self, call: SimCall, element: ET.Element) -> Outcome:
        host = self._host
        if element.tag == "Speak":
            await host.answer(call)
            call.said.append((element.text or "").strip())
            await call.changed()
            return "next"
        if element.tag == "Wait":
            await host.answer(call)
            await asyncio.sleep(max(0, int(element.get("length", "1"))))
            return "next"
        if element.tag == "Hangup":
            rejected = element.get("reason") in ("rejected", "busy") and not call.answered
            host.end_call(call, "busy" if rejected else "completed")
            return "ended"
        if element.tag == "Stream":
            return await self._stream(call, element)
        if element.tag == "Dial":
            return await self._dial(call, element)
        call.unsupported.append(element.tag)
        host.end_call(call, "completed" if call.answered else "failed")
        return "ended"

    async def _dial(self, call: SimCall, element: ET.Element) -> Outcome:
        """`<Dial callerId><Number>` (digits with the country code): the call is connected
        to the number. The callerId must be a number of the account, or an inbound call's
        own caller; anything else is refused, nothing dialled, and the XML goes on.
        Simplified: the dialled party answers and hangs up at once (the Dial ends)."""
        host = self._host
        numbers = [child for child in element if child.tag == "Number"]
        number = (numbers[0].text or "").strip() if len(numbers) == 1 else ""
        if len(element) != 1 or not number.isdigit():
            call.unsupported.append("Dial/" + ",".join(child.tag for child in element))
            host.end_call(call, "completed")
            return "ended"
        inbound = call.direction == "inbound"
        ours = call.to if inbound else call.from_
        caller_id = "+" + element.get("callerId", ours).removeprefix("+")
        if caller_id not in {*host.owned_numbers, ours, *([call.from_] if inbound else [])}:
            call.errors.append(f"<Dial> refused: callerId {caller_id} is not allowed")
            return "next"
        await host.answer(call)
        call.transfers.append(TransferDial("+" + number, caller_id, call.played_bytes))
        await call.changed()
        return "next"

    def _refuse(self, call: SimCall, why: str) -> Outcome:
        call.errors.append(f"<Stream> refused: {why}")
        logger.info("fake Plivo: %s: <Stream> refused: %s", call.sid, why)
        return "next"  # Plivo skips the element and goes on

    async def _stream(self, call: SimCall, element: ET.Element) -> Outcome:
        host = self._host
        url = (element.text or "").strip()
        parts = urlsplit(url)
        if parts.scheme != "wss" or not parts.netloc:
            return self._refuse(call, f"the URL must be wss://, not {url[:80]!r}")
        content_type = element.get("contentType")
        if content_type is None:
            call.errors.append(
                f"<Stream> has no contentType: Plivo streams {DEFAULT_CONTENT_TYPE} (L16)"
            )
            content_type = DEFAULT_CONTENT_TYPE
        if content_type not in CONTENT_TYPES:
            return self._refuse(call, f"unknown contentType {content_type[:64]!r}")
        bidirectional = element.get("bidirectional", "false") == "true"
        if bidirectional and element.get("audioTrack", "inbound") != "inbound":
            return self._refuse(call, "a bidirectional stream needs audioTrack='inbound'")
        extra = element.get("extraHeaders", "")
        pairs = [p for p in re.split(r"[;,]", extra) if p]
        if len(extra.encode()) > _EXTRA_MAX_BYTES or not all(
            _EXTRA_PAIR.fullmatch(p) for p in pairs
        ):
            return self._refuse(call, "extraHeaders must be key=value pairs of [A-Za-z0-9]")
        await host.answer(call)
        encoding, rate = CONTENT_TYPES[content_type]
        stream = PlivoStream(
            call,
            client=self._client,
            spawn=self._spawn,
            hang_up=partial(host.end_call, call, "completed"),
            account_id=host.auth_id,
            url=url,
            extra=extra,
            encoding=encoding,
            sample_rate=rate,
            bidirectional=bidirectional,
            detect_dtmf=host.detect_dtmf,
        )
        call.stream = stream
        if element.get("keepCallAlive", "false") != "true":
            # Plivo goes on with the next element while the stream runs.
            self._spawn(_run_detached(stream), f"fake-plivo-stream-{call.sid}")
            return "next"
        return "ended" if await stream.run() == "carrier" else "next"


async def _run_detached(stream: PlivoStream) -> None:
    await stream.run()
