"""Plivo's REST API: place a call, cancel or hang it up, press keys, check the account
(docs/protocols.md §7).

REST goes through the official `plivo` SDK, which is synchronous (`requests`): every call
runs in a worker thread (`asyncio.to_thread`), never on the event loop. Its base URL is
configurable (`plivo.apiBaseUrl`) so the offline simulator can stand in for api.plivo.com.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import plivo
import requests
from plivo.exceptions import PlivoRestError, ResourceNotFoundError

from voicecall_rt.carrier.base import CarrierError, OutboundRequest, Transfer

log = logging.getLogger(__name__)

T = TypeVar("T")
TIMEOUT_S = 15


def mask_id(auth_id: str) -> str:
    """First 4 and last 4 characters only (how ids appear in our output)."""
    return auth_id[:4] + "…" + auth_id[-4:] if len(auth_id) > 8 else "…"


def plivo_number(number: str) -> str:
    """Plivo writes numbers with the country code and without the `+`."""
    return number[1:] if number.startswith("+") else number


class _Client(plivo.RestClient):  # type: ignore[misc]  # the SDK has no type hints
    """The SDK's client with its base URL ours: it resets `base_uri` to api.plivo.com
    before each request, so the attribute is pinned here."""

    def __init__(self, auth_id: str, auth_token: str, api_base_url: str) -> None:
        self._pinned_base = api_base_url.rstrip("/") + "/v1/Account"
        super().__init__(auth_id, auth_token, timeout=TIMEOUT_S)

    @property
    def base_uri(self) -> str:
        return self._pinned_base

    @base_uri.setter
    def base_uri(self, value: str) -> None:
        """Ignored: the SDK would point every request back at api.plivo.com."""


class PlivoCarrier:
    """REST client for one account; `close()` when done."""

    # The stream is set up by the answer's XML, never in the dial.
    streams_at_dial = False

    def __init__(self, auth_id: str, auth_token: str, api_base_url: str) -> None:
        self.auth_id = auth_id
        self._client = _Client(auth_id, auth_token, api_base_url)
        # The request uuids our dials returned: a hang-up naming one cancels the dial.
        self._requests: set[str] = set()

    async def close(self) -> None:
        await asyncio.to_thread(self._client.session.close)

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except PlivoRestError as exc:
            raise self._error(exc) from None
        except requests.RequestException as exc:
            raise CarrierError(f"cannot reach Plivo: {type(exc).__name__}") from None

    def _error(self, exc: PlivoRestError) -> CarrierError:
        detail = (str(exc).splitlines() or ["request refused"])[0][:200]
        # The SDK's messages quote the request URL, which holds the Auth ID.
        detail = detail.replace(self.auth_id, mask_id(self.auth_id))
        status = 404 if isinstance(exc, ResourceNotFoundError) else None
        return CarrierError(
            f"Plivo refused the request ({type(exc).__name__}): {detail}", status=status
        )

    async def create_call(self, request: OutboundRequest) -> str:
        """Dial; returns the request uuid (the call's CallUUID comes with its answer)."""
        extra: dict[str, Any] = {}
        if request.amd_url is not None:
            # Asynchronous: the call is answered at once, the verdict posted on its own URL.
            extra = {
                "machine_detection": "true",
                "machine_detection_url": request.amd_url,
                "machine_detection_method": "POST",
            }
        response = await self._call(
            self._client.calls.create,
            from_=plivo_number(request.from_),
            to_=plivo_number(request.to),
            answer_url=request.answer_url,
            answer_method="POST",
            ring_url=request.status_url,
            ring_method="POST",
            hangup_url=request.status_url,
            hangup_method="POST",
            ring_timeout=request.ring_timeout_s,
            time_limit=request.time_limit_s,
            **extra,
        )
        request_uuid = getattr(response, "request_uuid", None)
        if isinstance(request_uuid, list):  # a dial to several numbers answers a list
            request_uuid = request_uuid[0] if request_uuid else None
        if not isinstance(request_uuid, str) or not request_uuid:
            raise CarrierError("Plivo accepted the call but gave no request_uuid")
        self._requests.add(request_uuid)
        return request_uuid

    async def hang_up(self, call_sid: str) -> None:
        """End the call, whatever state it is in; one already over counts as hung up.

        A request uuid (no CallUUID known yet) is cancelled (`DELETE /Request/{id}/`). If
        it was answered meanwhile Plivo answers 404: its answer webhook then reaches a call
        we ended and is answered `<Hangup/>`, so the call still ends."""
        if call_sid in self._requests:
            try:
                await self._call(self._client.calls.cancel, call_sid)
            except CarrierError as exc:
                if exc.status != 404:
                    raise
            return
        try:
            await self._call(self._client.calls.delete, call_sid)
        except CarrierError as exc:
            if exc.status != 404:
                raise

    async def send_digits(self, call_sid: str, digits: str) -> bool:
        """Plivo plays the keys on the call (`POST /Call/{uuid}/DTMF/`, leg `aleg`: the
        callee hears them); the stream stays up."""
        await self._call(self._client.calls.send_digits, call_sid, digits, leg="aleg")
        return True

    async def transfer(self, call_sid: str, transfer: Transfer) -> None:
        """Plivo's Transfer Call API (`POST /Call/{uuid}/`, legs `aleg`): Plivo fetches
        `aleg_url` and runs the XML it answers, which ends our `<Stream>`. That URL is our
        server's (`transfer.document_url`), signed by Plivo like every webhook; the
        document it serves dials the number (carrier/plivo/webhooks.py `dial_xml`)."""
        await self._call(
            self._client.calls.transfer,
            call_sid,
            legs="aleg",
            aleg_url=transfer.document_url,
            aleg_method="POST",
        )

    async def fetch_account(self) -> dict[str, Any]:
        """The account's details as Plivo gives them (name, type, whether enabled)."""
        account = await self._call(self._client.account.get)
        return {k: v for k, v in vars(account).items() if not k.startswith("_")}

    async def owns_number(self, number: str) -> bool:
        try:
            await self._call(self._client.numbers.get, plivo_number(number))
        except CarrierError as exc:
            if exc.status == 404:
                return False
            raise
        return True
