"""Where the carrier reaches us: the paths under the public URL, stated once (the web
layer routes them, the call manager hands them to the carrier)."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from voicecall_rt.carrier.base import Connect, OutboundRequest

ANSWER_PATH = "/voice/answer"
STATUS_PATH = "/voice/status"
AMD_PATH = "/voice/amd"
STREAM_PATH = "/voice/realtime-stream"
# The document that dials a transfer's target, for a carrier that fetches one (Plivo).
TRANSFER_PATH = "/voice/transfer"


def stream_url(public_url: str) -> str:
    """The media WebSocket's URL (wss, on the public URL's host)."""
    return f"wss://{urlsplit(public_url).netloc}{STREAM_PATH}"


def outbound_request(
    public_url: str,
    call_id: str,
    *,
    to: str,
    from_: str,
    ring_timeout_s: int,
    time_limit_s: int,
    amd: bool,
    stream: Connect | None = None,
) -> OutboundRequest:
    """The dial request for call `call_id`: its webhooks name the call in their query."""
    call_param = f"?call={call_id}"
    return OutboundRequest(
        to=to,
        from_=from_,
        answer_url=f"{public_url}{ANSWER_PATH}{call_param}",
        status_url=f"{public_url}{STATUS_PATH}{call_param}",
        ring_timeout_s=ring_timeout_s,
        time_limit_s=time_limit_s,
        amd_url=f"{public_url}{AMD_PATH}{call_param}" if amd else None,
        stream=stream,
    )


def transfer_url(public_url: str, call_id: str, label: str) -> str:
    """Where the carrier fetches the document that transfers call `call_id` to the target
    labelled `label` (a label, never a number: the number is looked up in the config)."""
    return f"{public_url}{TRANSFER_PATH}?{urlencode({'call': call_id, 'target': label})}"
