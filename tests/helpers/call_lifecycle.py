"""The calls the lifecycle tests place, and how they read what became of them: the live
journal entries as they come, the carrier's status callbacks as it delivers them, and the
call as the local API shows it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    ModelScript,
    Say,
    Speak,
    WaitForModel,
)
from voicecall_rt.simulator.sim_call import SimCall
from voicecall_rt.simulator.world import SimWorld

GREETING = "Hello, this is Maria at Tony's."


def short_call() -> tuple[CallPlan, ModelScript]:
    """The callee greets; the model answers once and ends the call."""
    plan = CallPlan(
        ring_ms=100,
        answered_by="human",
        callee=(Speak(GREETING, 500), WaitForModel(quiet_ms=300)),
    )
    script = ModelScript(
        turns=(
            (
                Say("Hi Maria, thanks, that is all. Goodbye!", 400),
                CallTool("end_call", {"reason": "done"}),
            ),
        ),
        caller_transcripts=(GREETING,),
    )
    return plan, script


def long_call() -> tuple[CallPlan, ModelScript]:
    """The callee greets, the model answers, then the line just stays up."""
    plan = CallPlan(
        ring_ms=100,
        answered_by="human",
        callee=(Speak(GREETING, 500), WaitForModel(quiet_ms=200)),
    )
    script = ModelScript(
        turns=((Say("Hi Maria, I am calling about a table for Friday.", 400),),),
        caller_transcripts=(GREETING,),
    )
    return plan, script


async def next_entry(
    queue: asyncio.Queue[dict[str, Any]],
    match: Callable[[dict[str, Any]], bool],
    timeout_s: float = 10.0,
) -> dict[str, Any]:
    """The next live journal entry (from the hub) that `match`es."""
    async with asyncio.timeout(timeout_s):
        while True:
            entry = await queue.get()
            if match(entry):
                return entry


def entry_kind(kind: str, call_id: str | None = None) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["kind"] == kind and (call_id is None or e["call_id"] == call_id)


def transcript_line(role: str, call_id: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e["kind"] == "transcript" and e["role"] == role and e["call_id"] == call_id


def status_delivered(call: SimCall, status: str) -> Callable[[], bool]:
    """True once the carrier's status callback for `status` was delivered and answered."""
    return lambda: any(
        w.kind == "status" and w.params.get("CallStatus") == status and w.status == 204
        for w in call.webhooks
    )


async def get_call(world: SimWorld, call_id: str, wait: float | None = None) -> dict[str, Any]:
    query = "" if wait is None else f"?wait={wait}"
    status, data = await world.api("GET", f"/api/calls/{call_id}{query}")
    assert status == 200, data
    result: dict[str, Any] = data
    return result
