"""Our server against a carrier as strict as Twilio: SharedKey (SHA-256) signatures, a
stream our server closes ends the call, keys pressed in the caller's audio, a bad line.

Each world here is built directly (the SharedKey is a world option), and checked on the way
out as the integration fixture checks its worlds.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.world_carrier import twilio_of
from voicecall_rt.audio.goertzel import DtmfDetector
from voicecall_rt.simulator.openai.session import FakeSession
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    ModelScript,
    PressKeys,
    Say,
    Speak,
    WaitForModel,
)
from voicecall_rt.simulator.signing import SharedKey
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.world import FROM_NUMBER, SimWorld

KEY = SharedKey("sim-shared-key-secret-0123456789", key_id="webhooks_sharedkey_sim0001")
OTHER_KEY = SharedKey("another-shared-key-secret-98765", key_id=KEY.key_id)
SETTINGS_HEADER = f"key={KEY.key_id},algorithm=HMAC_SHA256"
CALLER = "+14155550177"
TO = "+14155550123"
OPEN: dict[str, Any] = {"inbound.enabled": True, "inbound.policy": "open"}
LONGEST: dict[str, Any] = {"calls.maxDurationSeconds": 14_400}
GREETING = "Tony's Pizza, Maria speaking."
GREET_ONLY = ModelScript(turns=((Say(GREETING, 300),),))
LISTEN_PLAN = CallPlan(callee=(WaitForModel(quiet_ms=200),))
HELLO = "Hello, Tony's Pizza."
CALL_SCRIPT = ModelScript(
    turns=(
        (
            Say("Hi, I'd like to book a table for four on Friday.", 400),
            CallTool("end_call", {"reason": "asked"}),
        ),
    ),
    caller_transcripts=(HELLO,),
)
CALL_PLAN = CallPlan(ring_ms=100, callee=(Speak(HELLO, 400), WaitForModel(quiet_ms=200)))


@asynccontextmanager
async def world_of(
    tmp_path: Path,
    plans: Callable[[str], CallPlan] | CallPlan,
    script: ModelScript,
    *,
    shared_key: SharedKey | None = None,
    **settings: Any,
) -> AsyncIterator[SimWorld]:
    before = set(asyncio.all_tasks())
    world = SimWorld(plans, script, tmp_path / "data", settings=settings, shared_key=shared_key)
    async with world:
        yield world
    for session in world.model.sessions:
        assert session.invalid == [], f"invalid client events: {session.invalid}"
        assert session.closed.is_set(), "a model socket outlived its call"
    leftover = [
        t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()
    ]
    assert not leftover, f"tasks left running: {leftover}"


async def _ended(call: SimCall, timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        await call.ended.wait()


async def _only_call(world: SimWorld) -> dict[str, Any]:
    status, data = await world.api("GET", "/api/calls")
    assert status == 200
    [call] = data["calls"]
    return dict(call)


def _appended_audio(session: FakeSession) -> bytes:
    return b"".join(
        base64.b64decode(str(e["audio"]))
        for e in session.received
        if e.get("type") == "input_audio_buffer.append"
    )


# ---- SharedKey signatures ---------------------------------------------------------------


@pytest.mark.slow  # a whole call at real pace
async def test_sha256_signed_webhooks_carry_an_outbound_call(tmp_path: Path) -> None:
    async with world_of(tmp_path, CALL_PLAN, CALL_SCRIPT, shared_key=KEY, **LONGEST) as world:
        call_id = await world.place(TO, "Book a table for four on Friday at 7pm.")
        sim = await world.carrier.wait_call()
        data = await world.wait_call(call_id)
        await _ended(sim)

    assert data["call"]["status"] == "completed"
    assert data["call"]["end_reason"] == "model-ended"
    kinds = {w.kind for w in sim.webhooks}
    assert {"voice", "status", "amd"} <= kinds
    assert all(w.status in (200, 204) for w in sim.webhooks), sim.webhooks
    assert {w.signature_settings for w in sim.webhooks} == {SETTINGS_HEADER}
    # Twilio's 4 h default call limit: our longest allowed call is accepted as it is.
    assert twilio_of(world).created[0]["TimeLimit"] == ["14400"]
    # Our TwiML names a wss URL without a query string, so nothing was lost on the way.
    assert sim.stream_url is not None and sim.stream_url.startswith("wss://")
    assert sim.stream_url_requested is None and sim.notifications == []


@pytest.mark.slow  # a whole call at real pace
async def test_sha256_signed_webhooks_carry_an_inbound_call(tmp_path: Path) -> None:
    async with world_of(tmp_path, LISTEN_PLAN, GREET_ONLY, shared_key=KEY, **OPEN) as world:
        sim = await world.carrier.place_inbound_call(
            from_number=CALLER, to_number=FROM_NUMBER, plan=LISTEN_PLAN
        )
        await sim.wait_for(lambda: sim.script_done)
        assert sim.streaming
        await sim.hang_up()
        data = await world.wait_call((await _only_call(world))["id"])

    assert data["call"]["status"] == "completed"
    # (The simulated number has no status callback configured: the voice URL is all.)
    assert [(w.kind, w.status) for w in sim.webhooks] == [("voice", 200)]
    assert {w.signature_settings for w in sim.webhooks} == {SETTINGS_HEADER}


@pytest.mark.parametrize("held", ["other-secret", "none"])
async def test_sha256_webhooks_signed_with_a_key_we_do_not_hold_are_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, held: str
) -> None:
    shared_key = KEY if held == "other-secret" else None
    async with world_of(tmp_path, LISTEN_PLAN, GREET_ONLY, shared_key=shared_key, **OPEN) as world:
        twilio_of(world).shared_key = OTHER_KEY  # the carrier signs with a key we do not have
        with caplog.at_level(logging.WARNING, logger="voicecall_rt.carrier.twilio.webhooks"):
            sim = await world.carrier.place_inbound_call(
                from_number=CALLER, to_number=FROM_NUMBER, plan=LISTEN_PLAN
            )
            await _ended(sim)
        assert (await world.api("GET", "/api/calls"))[1]["calls"] == []
        assert world.model.sessions == []

    assert [(w.kind, w.status) for w in sim.webhooks] == [("voice", 403)]
    assert sim.twiml == [] and sim.stream_url is None
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refused and KEY.key_id in refused[0] and "HMAC_SHA256" in refused[0]
    assert not any(k.secret in r.getMessage() for r in caplog.records for k in (KEY, OTHER_KEY))


# ---- a stream our server closes ends the call -------------------------------------------


async def test_a_refused_stream_ends_the_call_at_the_carrier(tmp_path: Path) -> None:
    """Twilio runs what follows `<Connect>` once our server closes the socket; our TwiML has
    nothing there, so the call ends: settled from the carrier's own `completed`, with no
    REST hang-up."""
    async with world_of(tmp_path, CALL_PLAN, CALL_SCRIPT) as world:
        twilio_of(world).start_token_override = "call_0123456789abcdef.not-the-secret"
        call_id = await world.place(TO, "Book a table for four on Friday at 7pm.")
        sim = await world.carrier.wait_call()
        await _ended(sim)
        data = await world.wait_call(call_id)

    assert sim.ws_closed_by == "server"
    assert sim.statuses[-1] == "completed"
    assert [w.params["CallStatus"] for w in sim.webhooks if w.kind == "status"][-1] == "completed"
    assert twilio_of(world).updates == []
    assert data["call"]["status"] == "completed"
    assert "stream.start" not in [e["kind"] for e in data["events"]]
    for session in world.model.sessions:
        assert _appended_audio(session) == b""


# ---- the caller's keypad -----------------------------------------------------------------


@pytest.mark.slow  # a whole call at real pace
async def test_caller_keys_reach_the_model_in_band_and_as_dtmf_messages(tmp_path: Path) -> None:
    plan = CallPlan(callee=(WaitForModel(quiet_ms=200), PressKeys("5")))
    async with world_of(tmp_path, plan, GREET_ONLY, **OPEN) as world:
        sim = await world.carrier.place_inbound_call(
            from_number=CALLER, to_number=FROM_NUMBER, plan=plan
        )
        await sim.wait_for(lambda: sim.script_done)
        [session] = world.model.sessions

        def pressed() -> list[Any]:
            return [
                e["item"]["content"]
                for e in session.received
                if e.get("type") == "conversation.item.create" and e["item"].get("role") == "user"
            ]

        await world.model.wait_for(lambda: bool(pressed()))
        await sim.hang_up()
        data = await world.wait_call((await _only_call(world))["id"])

    assert sim.keys_pressed == "5"
    # From Twilio's `dtmf` message: the bridge tells the model and writes the transcript.
    assert pressed() == [[{"type": "input_text", "text": "[caller pressed 5]"}]]
    assert ("system", "caller pressed 5") in [(x["role"], x["text"]) for x in data["transcript"]]
    # And in-band: the tone itself went to the model with the rest of the caller's audio.
    detector = DtmfDetector()
    heard = detector.feed(_appended_audio(session)) + detector.feed(b"\xff" * 1600)
    assert "".join(heard) == "5"


# ---- a bad line --------------------------------------------------------------------------


@pytest.mark.slow  # a whole call at real pace
async def test_a_jittery_lossy_line_still_carries_the_call(tmp_path: Path) -> None:
    plan = CallPlan(
        ring_ms=100,
        callee=(Speak(HELLO, 800), WaitForModel(quiet_ms=200)),
        jitter_ms=80,
        loss_rate=0.05,
        line_seed=3,
    )
    async with world_of(tmp_path, plan, CALL_SCRIPT) as world:
        call_id = await world.place(TO, "Book a table for four on Friday at 7pm.")
        sim = await world.carrier.wait_call()
        data = await world.wait_call(call_id)
        await _ended(sim)

    assert data["call"]["status"] == "completed"
    assert data["call"]["end_reason"] == "model-ended"
    assert [x["text"] for x in data["transcript"] if x["role"] == "caller"] == [HELLO]
    assert sim.media_lost  # the line did lose frames
    [end] = [e["data"] for e in data["events"] if e["kind"] == "end"]
    # Every frame that arrived was forwarded once; none was made up for the lost ones.
    assert end["frames_in"] == sim.media_sent
    assert end["bad_frames"] == 0
