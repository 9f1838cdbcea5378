"""The fake Twilio's TwiML interpreter: `<Say>`, `<Pause>`, `<Hangup>`, `<Reject>` and
`<Connect><Stream>` (with `<Parameter>`s, `statusCallback` and `<Connect action>`).

How strict it is about `<Stream url>` and what happens after the stream, and what it
simplifies, is listed in the package's docstring (`simulator.twilio`).
"""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from functools import partial
from typing import Literal, Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

from voicecall_rt.simulator.sim_call import Notification, SimCall, TransferDial
from voicecall_rt.simulator.tasks import Spawn
from voicecall_rt.simulator.twilio.media_stream import EndedBy, MediaStream, StreamSettings
from voicecall_rt.simulator.twilio.webhooks import WebhookClient

__all__ = ["ERR_STREAM_SCHEME", "TwimlHost", "TwimlInterpreter"]

logger = logging.getLogger(__name__)

ERR_STREAM_SCHEME = 31922  # "Stream - WebSocket - URL Schema Not Supported"
ERR_DIAL_CALLER_ID = 13214  # "Dial: Invalid callerId value"
# A `<Stream>` a compatible carrier refuses (a query string, a codec): no number of its own.
ERR_STREAM_REFUSED = 0

Outcome = Literal["next", "ended"] | tuple[str, str]  # or the next document and its URL


class TwimlHost(StreamSettings, Protocol):
    """What the interpreter asks of the carrier (knobs are plain attributes, read when used)."""

    allow_ws_stream: bool
    keep_stream_query: bool
    owned_numbers: tuple[str, ...]
    stay_up_after_stream: bool

    async def answer(self, call: SimCall) -> None: ...

    def end_call(self, call: SimCall, final: str) -> asyncio.Task[None]: ...


class TwimlInterpreter:
    """Runs a call's TwiML documents, verb by verb."""

    def __init__(self, host: TwimlHost, client: WebhookClient, *, spawn: Spawn) -> None:
        self._host = host
        self._client = client
        self._spawn = spawn

    async def run(self, call: SimCall, url: str | None, document: str | None) -> None:
        """Run the TwiML the voice `url` answers with (`document` when there is no URL); a
        URL that gives none ends the call ("an application error has occurred")."""
        if url is not None:
            document = await self._client.fetch_twiml(call, "voice", url, call.config.method)
            doc_url = url
        else:
            doc_url = ""
        if document is None:
            self._host.end_call(call, "completed")
            return
        await self.run_document(call, document, doc_url)

    async def redirect(
        self, call: SimCall, previous: asyncio.Task[None] | None, url: str | None, twiml: str | None
    ) -> None:
        """REST update with Url/Twiml: the running TwiML (and any stream) stops, new TwiML runs."""
        if previous is not None and not previous.done():
            previous.cancel()
            await asyncio.wait([previous])
        if call.stream is not None:
            await call.stream.shutdown()
        call.stay_up = False
        await self.run(call, url, twiml)

    async def run_document(self, call: SimCall, document: str, doc_url: str) -> None:
        """Run TwiML verbs in order; `<Connect action>` swaps in the action's TwiML."""
        host = self._host
        current: str | None = document
        while current is not None:
            try:
                # TwiML comes from our own server; expat does not resolve external entities.
                root = ET.fromstring(current)  # noqa: S314
            except ET.ParseError as exc:
                call.errors.append(f"TwiML is not XML: {exc}")
                host.end_call(call, "completed")
                return
            if root.tag != "Response":
                call.errors.append(f"TwiML root is <{root.tag}>, not <Response>")
                host.end_call(call, "completed")
                return
            following: tuple[str, str] | None = None
            for verb in root:
                outcome = await self._run_verb(call, verb, doc_url)
                if outcome == "ended":
                    return
                if isinstance(outcome, tuple):
                    following = outcome
                    break
            current, doc_url = following if following is not None else (None, doc_url)
        if call.stay_up and host.stay_up_after_stream:
            return  # lenient: the call waits for our server's REST hang-up
        host.end_call(call, "completed")

    async def _run_verb(self, call: SimCall, verb: ET.Element, doc_url: str) -> Outcome:
        host = self._host
        tag = verb.tag
        if tag == "Say":
            await host.answer(call)
            call.said.append((verb.text or "").strip())
            await call.changed()
            return "next"
        if tag == "Pause":
            await host.answer(call)
            try:
                length = int(verb.get("length", "1"))
            except ValueError:
                length = 1
            await asyncio.sleep(max(0, length))
            return "next"
        if tag == "Hangup":
            host.end_call(call, "completed")
            return "ended"
        if tag == "Reject":
            host.end_call(call, "busy")
            return "ended"
        if tag == "Connect":
            return await self._connect(call, verb, doc_url)
        if tag == "Dial":
            return await self._dial(call, verb)
        return self._unsupported(call, tag)

    async def _dial(self, call: SimCall, verb: ET.Element) -> Outcome:
        """`<Dial callerId><Number>`: the call is connected to the number. Twilio's rule
        (error 13214): the callerId must be the call's calling or called number, or one of
        the account's; anything else is refused, nothing dialled, and the TwiML goes on.
        Simplified: the dialled party answers and hangs up at once (the Dial ends)."""
        numbers = [child for child in verb if child.tag == "Number"]
        if len(numbers) != 1 or len(verb) != 1 or not (numbers[0].text or "").strip():
            return self._unsupported(call, "Dial/" + ",".join(c.tag for c in verb))
        number = (numbers[0].text or "").strip()
        caller_id = verb.get("callerId") or call.from_
        allowed = {call.from_, call.to, *self._host.owned_numbers}
        if caller_id not in allowed:
            self._notify(call, ERR_DIAL_CALLER_ID, f"Dial: Invalid callerId value {caller_id}")
            return "next"
        await self._host.answer(call)
        call.transfers.append(TransferDial(number, caller_id, call.played_bytes))
        await call.changed()
        return "next"

    def _notify(self, call: SimCall, code: int, message: str) -> None:
        call.notifications.append(Notification(code, message))
        call.errors.append(f"{code}: {message}")
        logger.info("fake carrier: %s: error %d: %s", call.sid, code, message)

    def _unsupported(self, call: SimCall, what: str) -> Literal["ended"]:
        call.unsupported.append(what)
        logger.warning("fake carrier: unsupported TwiML %s on %s, hanging up", what, call.sid)
        self._host.end_call(call, "completed")
        return "ended"

    async def _connect(self, call: SimCall, verb: ET.Element, doc_url: str) -> Outcome:
        host = self._host
        children = list(verb)
        if len(children) != 1 or children[0].tag != "Stream":
            inner = ",".join(child.tag for child in children) or "nothing"
            return self._unsupported(call, f"Connect/{inner}")
        element = children[0]
        raw_url = element.get("url")
        if not raw_url:
            call.errors.append("<Stream> without url")
            host.end_call(call, "completed")
            return "ended"
        url = urljoin(doc_url, raw_url) if doc_url else raw_url
        parts = urlsplit(url)
        scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
        if scheme not in ("wss", "ws") or not parts.netloc:
            call.errors.append(f"<Stream url> is not a WebSocket URL: {raw_url}")
            host.end_call(call, "completed")
            return "ended"
        # Twilio's `<Stream url>` takes no query string: what our server put there is lost
        # (a dialect that `refuses_stream_query` opens no stream at all).
        query = parts.query if host.keep_stream_query else ""
        url = urlunsplit((scheme, parts.netloc, parts.path, query, ""))
        dialect = host.dialect
        media_format = dialect.media_format(element.get("codec"))
        refusal: tuple[int, str] | None = None
        if scheme == "ws" and not host.allow_ws_stream:
            refusal = ERR_STREAM_SCHEME, f"URL schema not supported: {raw_url}"
        elif query != parts.query and dialect.refuses_stream_query:
            refusal = ERR_STREAM_REFUSED, f"invalid_url: a query string in {raw_url}"
        elif media_format is None:
            refusal = ERR_STREAM_REFUSED, f"codec_error: {element.get('codec')!r}"
        if query != parts.query or refusal is not None:
            call.stream_url_requested = raw_url
        if refusal is not None:
            # The carrier opens no stream; the call goes on with the rest of its TwiML.
            self._notify(call, *refusal)
            await host.answer(call)
            return await self._after_stream(call, verb, doc_url, "failed")
        assert media_format is not None
        parameters = {
            p.get("name", ""): p.get("value", "") for p in element if p.tag == "Parameter"
        }
        stream_callback = element.get("statusCallback")
        if stream_callback and doc_url:
            stream_callback = urljoin(doc_url, stream_callback)
        await host.answer(call)
        stream = MediaStream(
            call,
            settings=host,
            client=self._client,
            spawn=self._spawn,
            hang_up=partial(host.end_call, call, "completed"),
            url=url,
            parameters=parameters,
            name=element.get("name"),
            status_callback=stream_callback or None,
            status_callback_method=element.get("statusCallbackMethod", "POST"),
            media_format=media_format,
        )
        call.stream = stream
        return await self._after_stream(call, verb, doc_url, await stream.run())

    async def _after_stream(
        self, call: SimCall, verb: ET.Element, doc_url: str, ended_by: EndedBy
    ) -> Outcome:
        """Where the TwiML goes once the stream is over: `<Connect action>`, else on."""
        if ended_by == "carrier":
            return "ended"
        call.stay_up = ended_by == "server"
        action = verb.get("action")
        if action:
            action_url = urljoin(doc_url, action) if doc_url else action
            document = await self._client.fetch_twiml(
                call, "action", action_url, verb.get("method", "POST")
            )
            if document is None:
                self._host.end_call(call, "completed")
                return "ended"
            return document, action_url
        return "next"
