"""The notify webhook's retry policy against the strict fake gateway: what is retried (with
the same body and `Idempotency-Key`), what is final, a receiver that is down or hangs, and
shutdown. Nothing waits on a clock but the `Retry-After`s the policy must honour."""

from __future__ import annotations

import asyncio

import pytest

from tests.helpers import notify_hooks as hooks
from tests.helpers.world import MakeWorld
from voicecall_rt import notify
from voicecall_rt.simulator.openclaw_gateway import ADMISSION_ERRORS, FakeGateway, Scripted
from voicecall_rt.simulator.scenario import ModelScript


async def test_retried_with_the_same_key_until_delivered(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """409 (session changed), 429 and 503 are retried, honouring `Retry-After`; every
    attempt carries the same body and idempotency key, so the agent runs once."""
    monkeypatch.setattr(notify, "BACKOFF_BASE_S", 0.01)
    async with FakeGateway(hooks.TOKEN) as gateway:
        gateway.script(
            [
                Scripted(409),
                Scripted(429, "Too Many Requests", retry_after_s=1),
                Scripted(503, retry_after_s=1),
            ]
        )
        world, call_id = await hooks.busy_call(make_world, gateway)
        assert await hooks.delivery_verdict(world, call_id) is True

    assert [r.status for r in gateway.requests] == [409, 429, 503, 200]
    assert len({r.headers["Idempotency-Key"] for r in gateway.requests}) == 1
    assert len({r.body for r in gateway.requests}) == 1
    [run] = gateway.runs
    events = await hooks.notify_events(world, call_id)
    assert [(e.kind, e.data) for e in events] == [
        (
            "notify.attempt",
            {"attempt": 1, "status": 409, "detail": ADMISSION_ERRORS[409], "retry_in_s": 0.01},
        ),
        (
            "notify.attempt",
            {"attempt": 2, "status": 429, "detail": "Too Many Requests", "retry_in_s": 1.0},
        ),
        (
            "notify.attempt",
            {"attempt": 3, "status": 503, "detail": ADMISSION_ERRORS[503], "retry_in_s": 1.0},
        ),
        ("notify.attempt", {"attempt": 4, "status": 200}),
        ("notify.delivered", {"attempts": 4, "status": 200, "run_id": run.run_id}),
    ]
    assert run.message.startswith(f"Phone call {call_id} to +14155550123 ended: busy")
    assert "never answered" in run.message and "Outcome: none reported." in run.message


async def test_gives_up_after_the_last_attempt(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "BACKOFF_BASE_S", 0.001)
    async with FakeGateway(hooks.TOKEN) as gateway:
        gateway.script([Scripted(502)] * notify.MAX_ATTEMPTS)
        world, call_id = await hooks.busy_call(make_world, gateway)
        assert await hooks.delivery_verdict(world, call_id) is False
    assert len(gateway.requests) == notify.MAX_ATTEMPTS and gateway.runs == []
    events = await hooks.notify_events(world, call_id)
    assert [e.kind for e in events].count("notify.attempt") == notify.MAX_ATTEMPTS
    last = {"attempt": notify.MAX_ATTEMPTS, "status": 502, "detail": ADMISSION_ERRORS[502]}
    assert events[-2].data == last  # no retry after it
    assert (events[-1].kind, events[-1].data) == (
        "notify.failed",
        {"attempts": notify.MAX_ATTEMPTS, "reason": "gave up after 5 attempts (HTTP 502)"},
    )


@pytest.mark.parametrize(
    ("gateway", "status", "detail", "meaning"),
    [
        (
            FakeGateway("another-token-entirely-0123456789"),
            401,
            "Unauthorized",
            "the receiver refused notify.token",
        ),
        (  # a proxy in front with a lower limit than the gateway's
            FakeGateway(hooks.TOKEN, max_body_bytes=100),
            413,
            "payload too large",
            "the receiver refused the body's size",
        ),
    ],
)
async def test_a_final_answer_is_not_retried(
    make_world: MakeWorld, gateway: FakeGateway, status: int, detail: str, meaning: str
) -> None:
    statuses, events = await hooks.never_delivered(make_world, gateway)
    assert statuses == [status]
    assert [(e.kind, e.data) for e in events] == [
        ("notify.attempt", {"attempt": 1, "status": status, "detail": detail}),
        ("notify.failed", {"attempts": 1, "reason": f"HTTP {status}: {meaning}: {detail}"}),
    ]


async def test_unreachable_receiver_is_retried_then_given_up(
    make_world: MakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "BACKOFF_BASE_S", 0.001)
    async with FakeGateway(hooks.TOKEN) as gateway:
        pass  # nothing listens on its port any more
    world, call_id = await hooks.busy_call(make_world, gateway)
    assert await hooks.delivery_verdict(world, call_id) is False
    events = await hooks.notify_events(world, call_id)
    attempts = [e.data for e in events if e.kind == "notify.attempt"]
    assert len(attempts) == notify.MAX_ATTEMPTS
    assert all("error" in a and "status" not in a for a in attempts)
    assert events[-1].kind == "notify.failed"


async def test_a_hanging_receiver_never_blocks_the_call(make_world: MakeWorld) -> None:
    gate = asyncio.Event()
    async with FakeGateway(hooks.TOKEN, hold=gate) as gateway:
        world = await make_world(hooks.BUSY, ModelScript(), **hooks.gateway_settings(gateway))
        notifier = world.server.notifier
        assert notifier is not None
        call_id = await world.place("+14155550123", hooks.QUESTION)
        # The call settles and the API answers while the gateway holds the delivery open.
        data = await world.wait_call(call_id)
        assert data["call"]["status"] == "busy" and not data["active"]
        verdict = asyncio.ensure_future(notifier.wait_delivery(call_id))
        await gateway.arrived.wait()
        # Another call goes through meanwhile too.
        second = await world.place("+14155550124", hooks.QUESTION)
        assert (await world.wait_call(second))["call"]["status"] == "busy"
        assert not verdict.done()
        gate.set()
        assert await verdict is True
        assert await notifier.wait_delivery(second) is True
    ids = sorted(run.message.split()[2] for run in gateway.runs)
    assert ids == sorted([call_id, second])
    # Two deliveries, two keys.
    assert len({r.headers["Idempotency-Key"] for r in gateway.requests}) == 2


async def test_shutdown_drains_deliveries_in_flight(make_world: MakeWorld) -> None:
    gate = asyncio.Event()
    async with FakeGateway(hooks.TOKEN, hold=gate) as gateway:
        world, call_id = await hooks.busy_call(make_world, gateway)
        notifier = world.server.notifier
        assert notifier is not None
        await gateway.arrived.wait()
        # Stopping waits (within its bound) for the delivery in flight, which the gateway
        # answers once stopping has begun.
        asyncio.get_running_loop().call_soon(gate.set)
        await notifier.stop()
        assert await notifier.wait_delivery(call_id) is True


async def test_shutdown_cuts_a_stuck_delivery_after_its_bound(make_world: MakeWorld) -> None:
    async with FakeGateway(hooks.TOKEN, hold=asyncio.Event()) as gateway:  # answers at the end
        world, call_id = await hooks.busy_call(make_world, gateway)
        notifier = world.server.notifier
        assert notifier is not None
        await gateway.arrived.wait()
        await notifier.stop(drain_s=0.01)
        assert await notifier.wait_delivery(call_id) is False
        events = await hooks.notify_events(world, call_id)
    assert (events[-1].kind, events[-1].data) == (
        "notify.failed",
        {"reason": "server stopped before delivery"},
    )
