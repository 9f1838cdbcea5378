"""The fake Twilio's media stream, against a tiny app playing our server over loopback
(tests/helpers/fake_twilio_harness.py): frames at real pace, marks echoed only after their
audio played, clear, a scripted far party, keys pressed in band, and a lossy, jittery line.
Waits are on conditions, never sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import math
from email.utils import parsedate_to_datetime

import aiohttp
import pytest

from tests.helpers.fake_twilio_harness import (
    ACCOUNT,
    CALLEE,
    OUR_NUMBER,
    PUBLIC,
    STREAM_TWIML,
    TIMEOUT,
    TOKEN,
    OurServer,
    dial,
    hang_up_via_rest,
    make_fake,
)
from voicecall_rt.audio import dtmf, g711
from voicecall_rt.audio.goertzel import DtmfDetector
from voicecall_rt.simulator.caller_audio import voice_audio
from voicecall_rt.simulator.keypad import key_frames
from voicecall_rt.simulator.line import Line
from voicecall_rt.simulator.scenario import (
    CallPlan,
    HangUp,
    PressKeys,
    Speak,
    WaitForDigits,
    WaitForModel,
)
from voicecall_rt.simulator.twilio.carrier import FakeTwilio


def rms(ulaw: bytes) -> float:
    samples = g711.decode(ulaw)
    return math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))


# ---- outbound call with a stream ---------------------------------------------------------


@pytest.mark.slow  # media at real pace
async def test_outbound_call_streams_at_real_pace_and_rest_hangup_stops_it(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await server.wait_for(lambda: len(server.messages("media")) >= 25)
        await hang_up_via_rest(http, fake, call)
        await server.wait_for(lambda: server.ws_closed)

    # webhooks: signed over the public URL (query string included), delivered via the tunnel
    answer = server.hooks_of("answer")
    assert len(answer) == 1 and answer[0].signature_ok and answer[0].host == "voice.demo.test"
    assert answer[0].params["CallStatus"] == "in-progress"
    assert answer[0].params["Direction"] == "outbound-api"
    assert answer[0].params["CallSid"] == call.sid and answer[0].params["To"] == CALLEE
    statuses = server.hooks_of("status")
    assert all(h.signature_ok for h in statuses)
    assert [h.params["CallStatus"] for h in statuses] == [
        "initiated",
        "ringing",
        "in-progress",
        "completed",
    ]
    assert [int(h.params["SequenceNumber"]) for h in statuses] == [0, 1, 2, 3]
    assert all(h.params["CallbackSource"] == "call-progress-events" for h in statuses)
    parsedate_to_datetime(statuses[0].params["Timestamp"])
    assert "CallDuration" in statuses[-1].params and "CallDuration" not in statuses[0].params
    assert call.statuses == ["initiated", "ringing", "in-progress", "completed"]
    assert call.twiml == [STREAM_TWIML]
    stream_events = [h.params["StreamEvent"] for h in server.hooks_of("stream-status")]
    assert stream_events == ["stream-started", "stream-stopped"]

    # the stream: signed upgrade, connected, start, media..., stop
    assert server.ws_signature_ok is True
    log = [m for _, m in server.ws_log]
    assert log[0] == {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    start = log[1]
    assert start["event"] == "start" and start["sequenceNumber"] == "1"
    assert start["streamSid"] == call.stream_sid and start["streamSid"].startswith("MZ")
    assert start["start"] == {
        "streamSid": call.stream_sid,
        "accountSid": ACCOUNT,
        "callSid": call.sid,
        "tracks": ["inbound"],
        "customParameters": {"call_token": "tok-123", "campaign": "spring"},
        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
    }
    assert log[-1] == {
        "event": "stop",
        "sequenceNumber": str(len(log) - 1),
        "streamSid": call.stream_sid,
        "stop": {"accountSid": ACCOUNT, "callSid": call.sid},
    }
    assert [int(m["sequenceNumber"]) for m in log[1:]] == list(range(1, len(log)))
    assert call.ws_closed_by == "carrier"

    # media: 160 bytes of silence, chunk +1, timestamp +20 ms, on the real clock
    timed = [(t, m) for t, m in server.ws_log if m["event"] == "media"]
    for i, (_, m) in enumerate(timed, start=1):
        assert m["media"]["track"] == "inbound" and m["media"]["chunk"] == str(i)
        assert m["media"]["timestamp"] == str(20 * i)
        assert base64.b64decode(m["media"]["payload"]) == b"\xff" * 160
    first_t, _ = timed[0]
    for t, m in timed:
        stream_s = (int(m["media"]["timestamp"]) - 20) / 1000
        assert abs((t - first_t) - stream_s) < 0.1  # no drift, only jitter
    elapsed = timed[-1][0] - first_t
    assert elapsed > 0.3
    rate = (len(timed) - 1) / elapsed
    assert 40 <= rate <= 60


@pytest.mark.slow  # audio played at real pace
async def test_marks_echo_only_after_their_audio_played(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await server.send_mark("empty")  # nothing queued: echoed at once
        await call.wait_for(lambda: call.marks_echoed == ["empty"])
        audio = voice_audio(300)[:2400]  # 300 ms
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        await server.send_audio(audio)
        await server.send_mark("after-300ms")
        await server.send_mark("right-behind")
        await server.wait_for(lambda: len(server.messages("mark")) == 3)
        echo_t = next(
            t for t, m in server.ws_log if m.get("mark", {}).get("name") == "right-behind"
        )
        await hang_up_via_rest(http, fake, call)

    assert [m["mark"]["name"] for m in server.messages("mark")] == [
        "empty",
        "after-300ms",
        "right-behind",
    ]
    echoes = {e.name: e for e in call.mark_echoes}
    assert echoes["empty"].played_bytes == 0
    assert echoes["after-300ms"].played_bytes == 2400 and not echoes["after-300ms"].cleared
    assert echoes["right-behind"].played_bytes == 2400
    assert echo_t - sent_at >= 0.3  # 2400 bytes play for 300 ms, starting after they arrive
    assert bytes(call.played_audio) == audio and call.played_ms == 300
    assert call.clears == []
    assert all(m["streamSid"] == call.stream_sid for m in server.messages("mark"))


async def test_clear_drops_queued_audio_and_echoes_pending_marks(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await server.send_audio(b"\x55" * 16_000, chunk=1600)  # 2 s
        await server.send_mark("long")
        await call.wait_for(lambda: call.played_bytes >= 800)
        await server.send_clear()
        await server.wait_for(lambda: len(server.messages("mark")) == 1)
        played_at_clear = call.played_bytes
        await hang_up_via_rest(http, fake, call)

    assert call.marks_echoed == ["long"] and call.mark_echoes[0].cleared
    assert len(call.clears) == 1
    assert call.clears[0] + played_at_clear == 16_000
    assert call.clears[0] > 8000  # most of it never played
    assert call.played_bytes == played_at_clear  # nothing plays after a clear


@pytest.mark.slow  # a far party at real pace
async def test_far_party_script_speaks_waits_for_model_and_keys_then_hangs_up(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    plan = CallPlan(
        ring_ms=20,
        callee=(
            Speak("Hello, who is this?", ms=200),
            WaitForModel(quiet_ms=100, timeout_s=5),
            WaitForDigits(count=2, timeout_s=5),
            HangUp(),
        ),
    )
    fake = FakeTwilio(
        account_sid=ACCOUNT, auth_token=TOKEN, tunnel={}, plans=plan, owned_numbers=(OUR_NUMBER,)
    )
    async with fake:
        fake.route(PUBLIC + ":443/", f"http://127.0.0.1:{server.port}/")  # added after start
        call = await dial(http, fake)
        await server.wait_started()

        def voiced() -> list[bytes]:
            frames = [base64.b64decode(m["media"]["payload"]) for m in server.messages("media")]
            return [f for f in frames if f != b"\xff" * 160]

        # the far party talks for 200 ms (10 frames), then the line is silent again
        await server.wait_for(
            lambda: (
                len(voiced()) == 10
                and server.messages("media")[-1]["media"]["payload"]
                == base64.b64encode(b"\xff" * 160).decode()
            )
        )
        assert all(rms(f) > 1000 for f in voiced())
        assert call.spoken == ["Hello, who is this?"]
        model_reply = voice_audio(200)
        await server.send_audio(model_reply)
        await server.send_mark("reply")
        await server.wait_for(lambda: len(server.messages("mark")) == 1)
        assert call.heard_digits == ""
        await server.send_audio(dtmf.tone_audio("12"))
        async with asyncio.timeout(TIMEOUT):
            await call.ended.wait()
        await server.wait_for(lambda: server.ws_closed)

    assert call.heard_digits == "12"
    assert call.script_timeouts == []
    assert call.statuses[-1] == "completed"
    assert server.messages("stop") and server.ws_log[-1][1]["event"] == "stop"
    assert [h.params["CallStatus"] for h in server.hooks_of("status")][-1] == "completed"
    assert len(voiced()) == 10  # no more voice after the script


async def test_stop_media_and_far_party_dtmf_event(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    async with make_fake(server) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await call.wait_for(lambda: call.media_sent >= 3)
        call.stop_media()
        frozen = call.media_sent
        stream_ms = call.stream_ms
        await call.wait_for(lambda: call.stream_ms >= stream_ms + 100)
        assert call.media_sent == frozen  # the clock runs, no frames go out
        await call.send_dtmf_event("5")
        await server.wait_for(lambda: bool(server.messages("dtmf")))
        call.resume_media()
        await server.wait_for(lambda: len(server.messages("media")) > frozen)
        await hang_up_via_rest(http, fake, call)

    dtmf_message = server.messages("dtmf")[0]
    assert dtmf_message["dtmf"] == {"track": "inbound_track", "digit": "5"}
    media = server.messages("media")
    resumed = media[frozen]
    assert resumed["media"]["chunk"] == str(frozen + 1)  # chunk counts messages
    assert int(resumed["media"]["timestamp"]) >= int(media[frozen - 1]["media"]["timestamp"]) + 100


# ---- the line and the keypad -------------------------------------------------------------


def test_line_schedule_is_seeded_ordered_and_bounded() -> None:
    def schedule(seed: int) -> list[tuple[bool, float]]:
        line = Line(jitter_ms=60, loss_rate=0.1, seed=seed)
        out = []
        for n in range(500):
            fate = line.next(n * 0.02)
            out.append((fate.lost, fate.delay_s))
        return out

    first = schedule(7)
    assert schedule(7) == first
    assert schedule(8) != first
    lost = sum(1 for is_lost, _ in first if is_lost)
    assert 25 <= lost <= 80  # about 10 % of 500
    sent = [(n * 0.02 + delay) for n, (is_lost, delay) in enumerate(first) if not is_lost]
    assert sent == sorted(sent)  # order kept
    delays = [delay for is_lost, delay in first if not is_lost]
    assert max(delays) > 0.03 and min(delays) >= 0.0
    # Held-back frames wait at most for the latest frame before them (60 ms jitter).
    assert max(delays) <= 0.06 + 1e-9
    assert Line().clean and schedule(0) != [(False, 0.0)] * 500
    with pytest.raises(ValueError, match="loss_rate"):
        Line(loss_rate=1.0)
    with pytest.raises(ValueError, match="jitter_ms"):
        Line(jitter_ms=-1)


@pytest.mark.slow  # media at real pace
async def test_jitter_and_loss_on_the_caller_media(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    plan = CallPlan(ring_ms=20, jitter_ms=60, loss_rate=0.2, line_seed=11)
    async with make_fake(server, plan) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await call.wait_for(lambda: call.stream_ms >= 1400)
        await hang_up_via_rest(http, fake, call)

    timed = [(t, m) for t, m in server.ws_log if m["event"] == "media"]
    stamps = [int(m["media"]["timestamp"]) for _, m in timed]
    assert [m["media"]["chunk"] for _, m in timed] == [str(i) for i in range(1, len(timed) + 1)]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert call.media_lost and not set(call.media_lost) & set(stamps)
    # Exactly the frames the seeded line loses (its draws do not depend on timing).
    line = Line(jitter_ms=60, loss_rate=0.2, seed=11)
    expected_lost = [20 * n for n in range(1, 61) if line.next(0.0).lost]
    assert [s for s in call.media_lost if s <= 1200] == expected_lost
    # Every frame up to 1.2 s was sent or lost (the last few may still be held by the line).
    assert set(range(20, 1220, 20)) <= set(stamps) | set(call.media_lost)
    # Late, but never more than the jitter behind the grid (plus scheduling slack).
    (t0, m0) = timed[0]
    lateness = [
        (t - t0) - (int(m["media"]["timestamp"]) - int(m0["media"]["timestamp"])) / 1000
        for t, m in timed
    ]
    assert max(lateness) - min(lateness) < 0.06 + 0.1
    assert call.media_sent == len(timed)


def _decoded(payloads: list[str]) -> str:
    detector = DtmfDetector()
    heard = ""
    for payload in payloads:
        heard += "".join(detector.feed(base64.b64decode(payload)))
    heard += "".join(detector.feed(b"\xff" * 1600))
    return heard


@pytest.mark.slow  # tones at real pace
async def test_far_party_presses_keys_in_band_and_twilio_reports_them(
    server: OurServer, http: aiohttp.ClientSession
) -> None:
    plan = CallPlan(ring_ms=20, callee=(PressKeys("1#"), PressKeys("9", send_event=False)))
    async with make_fake(server, plan) as fake:
        call = await dial(http, fake)
        await server.wait_started()
        await call.wait_for(lambda: call.script_done)
        await server.wait_for(lambda: len(server.messages("dtmf")) == 2)
        await hang_up_via_rest(http, fake, call)

    assert call.keys_pressed == "1#9"
    log = [m for _, m in server.ws_log]
    dtmf_messages = [m for m in log if m["event"] == "dtmf"]
    assert [m["dtmf"] for m in dtmf_messages] == [
        {"track": "inbound_track", "digit": "1"},
        {"track": "inbound_track", "digit": "#"},
    ]
    assert all(m["streamSid"] == call.stream_sid for m in dtmf_messages)
    assert [int(m["sequenceNumber"]) for m in log[1:]] == list(range(1, len(log)))
    # In-band too: an independent detector hears every key in the media our server got.
    payloads = [m["media"]["payload"] for m in log if m["event"] == "media"]
    assert _decoded(payloads) == "1#9"
    # Each message follows the frame that ends its key's tone: the media before it holds the
    # whole tone, so the detector has heard the key by then.
    first = log.index(dtmf_messages[0])
    before = [m["media"]["payload"] for m in log[:first] if m["event"] == "media"]
    assert _decoded(before) == "1"
    assert not any(voiced for _, voiced in call.media_log)  # tones are not voice
    with pytest.raises(ValueError, match="DTMF"):
        key_frames("12x")
