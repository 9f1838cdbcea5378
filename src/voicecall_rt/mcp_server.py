"""`voicecall-rt mcp`: the phone as MCP tools, over stdio.

A thin face on the running server's local API (the server does the calling): tools to
place a call (and follow it live for a bounded time, with progress notifications), read
one (long-polling for a bounded time), list them and hang one up. A call lasts minutes,
but MCP clients give up on a request after a fixed time (OpenClaw: 60 s by default,
progress or not), so no tool waits longer than `MAX_WAIT_S`; a call still going is
returned as such, with the exact `get_call` to continue with. When no server is running,
every tool says so and how to start one. What the tools return is shaped in
mcp_results.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Final

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from voicecall_rt import __version__
from voicecall_rt.config import Settings
from voicecall_rt.local_client import LocalApiError, LocalClient
from voicecall_rt.mcp_results import (
    MAX_WAIT_S,
    CallList,
    CallResult,
    call_result,
    list_item,
    progress_message,
)
from voicecall_rt.mcp_schedules import (
    SCHEDULE_PREFIX,
    AtParam,
    TimeZoneParam,
    WhenAllowedParam,
    register_schedule_tools,
    schedule_info,
    schedule_result,
    scheduled_result,
)
from voicecall_rt.prompts import MAX_BRIEF_CHARS

MAX_SYSTEM_PROMPT_CHARS = MAX_BRIEF_CHARS
# A hard stop for a whole tool call (the local API not answering), still under 60 s.
TOOL_DEADLINE_S: Final = 55.0
HANG_UP_WAIT_S: Final = 15
_CALL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

SERVER_INSTRUCTIONS = f"""\
Places and follows real phone calls through the voicecall-rt server on this machine: a \
separate voice AI talks to whoever answers and reports the outcome. Use make_phone_call \
only when the user asked for a call; read its tool description before writing the brief. \
No tool waits more than {MAX_WAIT_S} s, and calls often last minutes: while a result says \
active=true the call is still going, so call get_call with its call_id and \
waitSeconds={MAX_WAIT_S}, again and again, until active is false; then report the outcome. \
Use list_calls to find calls and hang_up to end one. If a tool says no server is running, \
ask the user to start `voicecall-rt serve`."""

MAKE_PHONE_CALL_DESCRIPTION = f"""\
Place a real phone call. A separate voice AI makes the call and talks to whoever answers, \
on its own: you cannot speak to it or answer its questions during the call, and it knows \
only what you write in `task` and `systemPrompt`.

Write `systemPrompt` as a complete brief addressed to that voice AI in the second person \
("You are calling ... on behalf of ..."). Give it everything it needs:
- who it is calling, and on whose behalf (the name to give);
- the goal, with the exact details (dates, times, quantities, budgets, reference numbers);
- constraints: what it must not agree to, the limits it must stay within;
- acceptable alternatives and fallbacks, in order of preference;
- what to do if the other side cannot help (ask who can, or when to call back, or thank \
them and end the call) and what to do at a voicemail;
- only the personal information the call really needs (usually a name, sometimes a \
callback number) and nothing more: no addresses, birth dates, card or account numbers \
unless the task cannot be done without them;
- to stay truthful, never make things up, and to say it is an AI assistant when asked;
- what to find out and bring back (confirmation number, price, time agreed).
At most {MAX_SYSTEM_PROMPT_CHARS} characters, together with `task`.

GOOD systemPrompt: "You are calling Rosa's Trattoria on behalf of Sam Patel to book \
dinner for 3 this Saturday at 7:30 pm. Any time from 7 to 8:30 pm is fine; a table \
outside is nice but not needed. If Saturday is full, ask for Sunday at the same times \
and take it. The booking is under Sam Patel; give the callback number +1 415 555 0199 \
only if they ask for one. Do not agree to a deposit or give any other details. If asked, \
say you are an AI assistant booking for Sam. If they cannot book at all, thank them and \
end the call. Find out the confirmed time and any confirmation number."

BAD systemPrompt: "Book the restaurant for tonight, my details are in my profile." \
(Which restaurant, for whom, how many? What if tonight is full? The voice AI cannot \
ask you, and it has no profile.)

To get details back in a fixed shape, pass `outcomeSchema`: a JSON Schema object \
("type": "object") for the outcome's details, e.g. {{"type": "object", "properties": \
{{"confirmation": {{"type": "string"}}, "time": {{"type": "string"}}}}, "required": \
["confirmation"]}}. The voice AI must report details that fit it; an invalid schema is \
refused before dialling.

Following the call: with wait=true (the default) this follows the call for at most \
{MAX_WAIT_S} s, sending progress notifications (ringing, answered, voicemail, each \
transcript line, the outcome). If the call ends in that time, the result holds the \
outcome the voice AI reported (success, summary, details such as a confirmation number) \
and a short transcript. Calls usually take longer: then the result says active=true and \
the call goes on. Call get_call with its call_id and waitSeconds={MAX_WAIT_S}; it returns \
when the call ends or after {MAX_WAIT_S} s, whichever is first; repeat while active is \
true. With wait=false this returns the call id at once. A call reaches real people and \
costs money: call only when the user asked for it, never place the same call again \
because it is still running, and do not retry a failed call without telling them."""

GET_CALL_DESCRIPTION = """\
One call by id: its status, whether it is still live, the outcome the voice AI reported \
(success, summary, details), duration, who answered, and a short transcript \
("callee: ..." / "AI: ..." lines)."""
# The MCP tool's own (the plugin shares the sentence above, not its waiting).
GET_CALL_WAITING = f"""\
With waitSeconds (at most {MAX_WAIT_S}) it waits for a live call to end and returns as \
soon as it does, or when the time is up with active=true: call it again the same way \
until active is false."""

LIST_CALLS_DESCRIPTION = """\
Recent calls, newest first: id, direction, number, status, start time, duration and \
outcome. With active_only=true, only calls that are still ringing or in progress."""

HANG_UP_DESCRIPTION = f"""\
End a live call now (the voice AI stops mid-sentence and the line is hung up). Waits up \
to {HANG_UP_WAIT_S} s for the call to settle and returns it as get_call would."""


class _Progress:
    """Numbered progress notifications (a no-op when the client sent no progress token)."""

    def __init__(self, ctx: Context[Any, Any]) -> None:
        self._ctx = ctx
        self._count = 0
        self._once: set[str] = set()

    async def say(self, message: str) -> None:
        if message in ("dialing", "ringing", "answered"):
            if message in self._once:
                return  # the same milestone can arrive both as a journal entry and live
            self._once.add(message)
        self._count += 1
        await self._ctx.report_progress(self._count, None, message)


def _check_call_id(call_id: str) -> str:
    call_id = call_id.strip()
    if not _CALL_ID.fullmatch(call_id):
        raise ToolError(f"{call_id[:80]!r} is not a call id (they look like call_0123456789abcdef)")
    return call_id


@asynccontextmanager
async def _bounded(what: str, limit_s: float = TOOL_DEADLINE_S) -> AsyncIterator[None]:
    """No tool outlives the client's request timeout: past `limit_s`, a clear error."""
    try:
        async with asyncio.timeout(limit_s):
            yield
    except TimeoutError:
        raise ToolError(
            f"{what}: the local voicecall-rt server did not answer within {limit_s:g} s"
        ) from None


def build_server(
    settings: Settings, client: LocalClient | None = None, *, wait_s: float = MAX_WAIT_S
) -> MCPServer:
    """The MCP server with its four tools, talking to the local API of `settings`; no tool
    follows or waits on a call longer than `wait_s` (tests shorten it)."""
    api = client or LocalClient.for_settings(settings)
    server = MCPServer(
        name="voicecall-rt",
        title="voicecall-rt phone calls",
        version=__version__,
        instructions=SERVER_INSTRUCTIONS,
        log_level="WARNING",
    )

    async def request(
        method: str, path: str, body: dict[str, Any] | None = None, *, what: str = ""
    ) -> Any:
        try:
            return await api.request(method, path, body)
        except LocalApiError as exc:
            raise ToolError(f"{what}{exc}" if what and not exc.no_server else str(exc)) from None

    async def fetch(call_id: str, wait_s: float = 0) -> dict[str, Any]:
        try:
            data: dict[str, Any] = await api.request(
                "GET", f"/api/calls/{call_id}?wait={wait_s:g}", timeout_s=TOOL_DEADLINE_S
            )
        except LocalApiError as exc:
            if exc.status == 404:
                raise ToolError(f"no call with id {call_id}") from None
            raise ToolError(str(exc)) from None
        return data

    async def follow(
        call_id: str, direction: str, progress: _Progress, wait_s: float
    ) -> dict[str, Any]:
        """Relay the call's live events as progress until it settles or `wait_s` runs out;
        the call as it then stands."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        try:
            async with asyncio.timeout_at(deadline):
                async for kind, data in api.follow(call_id):
                    message = progress_message(kind, data, direction)
                    if message:
                        await progress.say(message)
                    if kind == "end" and "call" in data:
                        break
        except TimeoutError:
            pass  # still going: say so below
        except LocalApiError:
            pass  # the stream broke: the long poll below still finds out how the call stands
        try:
            return await fetch(call_id, wait_s=max(0.0, deadline - loop.time()))
        except ToolError as exc:
            raise ToolError(f"lost track of call {call_id}: {exc}") from None

    @server.tool(
        description=MAKE_PHONE_CALL_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Make a phone call",
            read_only_hint=False,
            destructive_hint=False,
            idempotent_hint=False,
            open_world_hint=True,
        ),
    )
    async def make_phone_call(
        to: Annotated[
            str,
            Field(
                description="The number to call in E.164 form: '+', country code, number "
                "(e.g. +14155551234)."
            ),
        ],
        task: Annotated[
            str,
            Field(
                description="One line saying what the call is for, e.g. 'Book a table for 3 "
                "at Rosa's Trattoria, Saturday 7:30 pm, under Sam Patel'. Shown in call lists "
                "and given to the voice AI after the brief."
            ),
        ],
        systemPrompt: Annotated[
            str | None,
            Field(
                description="The complete brief for the voice AI, in the second person "
                f"(see the tool description). At most {MAX_SYSTEM_PROMPT_CHARS} characters."
            ),
        ] = None,
        wait: Annotated[
            bool,
            Field(
                description=f"true: follow the call for up to {MAX_WAIT_S} s with progress "
                "notifications, returning early if it ends; false: return the call id at "
                "once. Either way, while the result says active=true, continue with "
                f"get_call(call_id, waitSeconds={MAX_WAIT_S})."
            ),
        ] = True,
        outcomeSchema: Annotated[
            dict[str, Any] | None,
            Field(
                description='A JSON Schema object ("type": "object") for the outcome\'s '
                "details, when you need them in a fixed shape, e.g. "
                '{"type": "object", "properties": {"confirmation": {"type": "string"}}, '
                '"required": ["confirmation"]}. The voice AI must report details that fit '
                "it; an invalid schema is refused before dialling."
            ),
        ] = None,
        at: AtParam = None,
        timeZone: TimeZoneParam = None,
        whenAllowed: WhenAllowedParam = False,
        ctx: Context[Any, Any] | None = None,
    ) -> CallResult:
        prompt = (systemPrompt or "").strip()
        if len(prompt) > MAX_SYSTEM_PROMPT_CHARS:
            raise ToolError(
                f"systemPrompt is {len(prompt)} characters; the limit is "
                f"{MAX_SYSTEM_PROMPT_CHARS}. Shorten the brief (keep the goal, the details, "
                "the fallbacks and the minimum personal information) and call again. "
                "The call was not placed."
            )
        combined = len(prompt) + (2 if prompt else 0) + len(task.strip())
        if combined > MAX_SYSTEM_PROMPT_CHARS:
            raise ToolError(
                f"systemPrompt and task together are {combined} characters; the limit is "
                f"{MAX_SYSTEM_PROMPT_CHARS}. Keep task to one line. The call was not placed."
            )
        if not prompt and not task.strip():
            raise ToolError("say what the call is for: give a task (and ideally a systemPrompt)")
        body: dict[str, Any] = {"to": to, "task": task.strip()}
        if prompt:
            body["systemPrompt"] = prompt
        if outcomeSchema is not None:
            body["outcomeSchema"] = outcomeSchema
        when = {"at": at, "timeZone": timeZone, "whenAllowed": whenAllowed or None}
        body |= {key: value for key, value in when.items() if value is not None}
        async with _bounded("placing the call"):
            placed = await request("POST", "/api/calls", body, what="the call was not placed: ")
            if "call" not in placed:  # stored for later
                return scheduled_result(placed["schedule"])
            record = placed["call"]
            call_id = str(record["id"])
            if not wait:
                return call_result({"call": record, "active": True, "transcript": []})
            if ctx is None:  # pragma: no cover - the SDK always supplies one
                return call_result(await fetch(call_id, wait_s=0))
            progress = _Progress(ctx)
            return call_result(await follow(call_id, record["direction"], progress, wait_s))

    @server.tool(
        description=f"{GET_CALL_DESCRIPTION} {GET_CALL_WAITING}",
        annotations=ToolAnnotations(title="Get a call", read_only_hint=True),
    )
    async def get_call(
        call_id: Annotated[str, Field(description="The call id, e.g. call_0123456789abcdef.")],
        waitSeconds: Annotated[
            int,
            Field(
                ge=0,
                le=MAX_WAIT_S,
                description=f"Wait up to this many seconds (at most {MAX_WAIT_S}) for a live "
                "call to end; 0 returns at once.",
            ),
        ] = 0,
    ) -> CallResult:
        call_id = _check_call_id(call_id)
        async with _bounded(f"reading call {call_id}"):
            waited = min(waitSeconds, wait_s)
            if call_id.startswith(SCHEDULE_PREFIX):  # a scheduled call: its latest attempt
                return await schedule_result(
                    request, call_id, lambda last: fetch(last, wait_s=waited)
                )
            return call_result(await fetch(call_id, wait_s=waited))

    @server.tool(
        description=LIST_CALLS_DESCRIPTION,
        annotations=ToolAnnotations(title="List calls", read_only_hint=True),
    )
    async def list_calls(
        active_only: Annotated[
            bool, Field(description="Only calls still ringing or in progress.")
        ] = False,
        limit: Annotated[int, Field(ge=1, le=200, description="How many calls at most.")] = 20,
    ) -> CallList:
        query = f"/api/calls?limit={limit}" + ("&active=1" if active_only else "")
        async with _bounded("listing calls"):
            data = await request("GET", query)
            live = await request("GET", "/api/schedules?live=1")
        return CallList(
            calls=[list_item(record) for record in data["calls"]],
            scheduled=[schedule_info(schedule) for schedule in live["schedules"]],
        )

    async def end_call(call_id: str) -> CallResult:
        try:
            await api.request("POST", f"/api/calls/{call_id}/hangup", timeout_s=TOOL_DEADLINE_S)
        except LocalApiError as exc:
            if exc.status != 404:
                raise ToolError(str(exc)) from None
            data = await fetch(call_id)  # raises "no call with id" if there is none at all
            if data["active"]:  # pragma: no cover - it ended and restarted in between?
                raise ToolError(f"call {call_id} could not be hung up: {exc}") from None
            raise ToolError(
                f"call {call_id} has already ended ({data['call']['status']}); nothing to hang up"
            ) from None
        return call_result(await fetch(call_id, wait_s=HANG_UP_WAIT_S))

    @server.tool(
        description=HANG_UP_DESCRIPTION,
        annotations=ToolAnnotations(
            title="Hang up a call", read_only_hint=False, destructive_hint=True
        ),
    )
    async def hang_up(
        call_id: Annotated[str, Field(description="The id of the live call to end.")],
    ) -> CallResult:
        call_id = _check_call_id(call_id)
        async with _bounded(f"hanging up call {call_id}"):
            return await end_call(call_id)

    register_schedule_tools(server, request)
    return server


async def serve_stdio(settings: Settings) -> None:
    """Run the MCP server on stdin/stdout until the client closes it."""
    await build_server(settings).run_stdio_async()
