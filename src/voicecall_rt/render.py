"""How calls look in a terminal: a call's journal entries as lines, its result as a panel,
a finished call in full (`calls show`), the call history as a table (`calls list`).

The demo and `voicecall-rt call --follow` both show calls this way; the entries are the
ones the call journal publishes live and the local API streams as server-sent events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from voicecall_rt.call.stats import describe_latency
from voicecall_rt.model.catalog import ShutdownNotice
from voicecall_rt.pricing import call_cost, describe_cost, format_usd

if TYPE_CHECKING:
    from voicecall_rt.call.records import CallRecord
    from voicecall_rt.config import Settings

_ROLE_STYLE = {"caller": ("callee", "cyan"), "assistant": ("AI", "green"), "system": ("·", "dim")}
_QUIET_EVENTS = {"model.retry", "model.first_audio", "status", "created", "answered", "settled"}
_QUIET_EVENTS |= {"latency.answer_to_stream", "latency.stream_to_audio", "latency.bridge"}
# The model's rate-limit figures come with every response: kept in the record, not shown.
_QUIET_EVENTS |= {"model.rate_limits"}
# Journal events of a model in trouble (call/bridge.py), and what each one means.
_MODEL_TROUBLE = {
    "model.fatal": "account error, the call ends",
    "model.refused": "session refused, the call ends",
    "model.failed": "model failed",
    "model.response_failed": "response failed",
    "model.error": "error",
    "model.renew_failed": "could not renew the session",
    "transcription.failed": "could not transcribe the caller",
}
# What a model end reason tells the reader beyond OpenAI's own message.
MODEL_END_REASONS = {
    "model-fatal": "OpenAI refused the account (quota, billing, API key): every call will fail"
    " until that is fixed",
    "model-refused": "OpenAI refused the session the call needed",
    "model-failed": "the model failed again after one retry",
}


def describe_error(record: Mapping[str, Any]) -> str | None:
    """A call's error for people, with what its end reason means; None without one."""
    error = record.get("error")
    if not error:
        return None
    hint = MODEL_END_REASONS.get(str(record.get("end_reason")))
    return f"{error} ({hint})" if hint else str(error)


def print_entry(console: Console, entry: dict[str, Any]) -> None:
    t = f"{entry['t_ms'] / 1000:6.1f}s"
    kind = entry["kind"]
    if kind == "transcript":
        who, style = _ROLE_STYLE.get(entry["role"], (entry["role"], "white"))
        cut = " [dim](interrupted)[/dim]" if entry.get("interrupted") else ""
        console.print(f"{t}  [{style}]{who:>6}[/{style}]  {entry['text']}{cut}", highlight=False)
        return
    data = entry.get("data", {})
    if kind == "call.status":
        console.print(f"{t}  [yellow]status[/yellow]  {data['status']}", highlight=False)
    elif kind == "model.ready":
        console.print(f"{t}  [dim]model session ready (pre-warmed, {data['connect_ms']} ms)[/dim]")
    elif kind == "stream.start":
        console.print(f"{t}  [dim]audio bridged (model ready: {data['model_ready']})[/dim]")
    elif kind == "placed":
        console.print(f"{t}  [yellow]  dial[/yellow]  {data['to']}", highlight=False)
    elif kind == "amd":
        console.print(f"{t}  [dim]answering-machine detection: {data['answered_by']}[/dim]")
    elif kind == "outcome":
        console.print(f"{t}  [magenta]  tool[/magenta]  report_outcome: {data['summary']}")
    elif kind == "dtmf":
        # Tones in our audio have a length; keys pressed by the carrier (REST, a stream
        # message) have only the way they went.
        how = (
            f"{data['audio_ms']} ms of keypad tones on the line"
            if "audio_ms" in data
            else f"pressed by the carrier ({data.get('via', '?')})"
        )
        console.print(
            f"{t}  [magenta]  tool[/magenta]  send_dtmf {data['digits']}: {how}", highlight=False
        )
    elif kind == "barge_in":
        cuts = ", ".join(f"{c['audio_end_ms']} ms" for c in data["items"])
        console.print(
            f"{t}  [yellow] barge[/yellow]  callee talked over the model: its audio stopped "
            f"after {cuts} (carrier queue cleared, item truncated)",
            highlight=False,
        )
    elif kind == "voicemail":
        console.print(f"{t}  [yellow]    vm[/yellow]  answering machine: leaving a message")
    elif kind == "tool":
        console.print(f"{t}  [magenta]  tool[/magenta]  {data['name']} ({data.get('reason', '')})")
    elif kind == "transfer":
        console.print(
            f"{t}  [yellow]  xfer[/yellow]  handed to {escape(str(data['target']))} "
            f"({data['number']}, showing {data['caller_id']})",
            highlight=False,
        )
    elif kind == "transfer.failed" and "error" in data:
        console.print(
            f"{t}  [red]  xfer[/red]  the carrier refused the transfer to "
            f"{escape(str(data['target']))}: {escape(str(data['error']))}",
            highlight=False,
        )
    elif kind in ("transfer.failed", "transfer.ended"):
        # After the handover (call/transfer.py): the person dialled never answered, or
        # hung up; either way the caller's line was hung up after them.
        what = "did not answer" if kind == "transfer.failed" else "hung up"
        console.print(
            f"{t}  [yellow]  xfer[/yellow]  {escape(str(data.get('target', 'the target')))} "
            f"{what} ({escape(str(data.get('cause', '?')))}): the caller's line was hung up",
            highlight=False,
        )
    elif (guard := guard_note(kind, data)) is not None:
        console.print(f"{t}  [yellow] guard[/yellow]  {guard}", highlight=False)
    elif kind == "turn.latency":
        console.print(f"{t}  [dim]model answered {data['ms']} ms after the callee stopped[/dim]")
    elif kind == "end":
        console.print(f"{t}  [yellow]   end[/yellow]  {data['reason']}")
    elif kind in _MODEL_TROUBLE:
        said = data.get("error") or data.get("message") or data.get("code") or ""
        console.print(
            f"{t}  [red] model[/red]  {_MODEL_TROUBLE[kind]}: {escape(str(said))}",
            highlight=False,
        )
    elif kind not in _QUIET_EVENTS:
        console.print(f"{t}  [dim]{kind}[/dim]")


def guard_note(kind: str, data: dict[str, Any]) -> str | None:
    """What a guard's event on a call's timeline says (docs/business.md §Guards), else None."""
    if kind == "do-not-call":
        reason = escape(str(data.get("reason", "")))
        return f"mark_do_not_call: {data['number']} is not to be called again ({reason})"
    if kind == "spend.limit":
        return (
            f"{format_usd(data['spent_usd'])} reached limits.perCallSpendUsd"
            f" ({format_usd(data['limit_usd'])}): the call said goodbye"
        )
    return None


def print_outcome(console: Console, data: dict[str, Any]) -> bool:
    record = data["call"]
    outcome = record.get("outcome")
    ok = record["status"] == "completed" and bool(outcome and outcome["success"])
    body = Table.grid(padding=(0, 2))
    body.add_row("status", f"{record['status']} ({record.get('end_reason')})")
    body.add_row("duration", f"{record.get('duration_s') or 0:.1f} s")
    body.add_row("cost", describe_cost(record.get("cost")))
    error = describe_error(record)
    if error:
        body.add_row("[red]error[/red]", escape(error))
    if outcome:
        body.add_row(
            "outcome", ("success: " if outcome["success"] else "failed: ") + outcome["summary"]
        )
        if outcome.get("transferred_to"):
            body.add_row("transferred to", escape(str(outcome["transferred_to"])))
        for key, value in (outcome.get("details") or {}).items():
            body.add_row(f"  {key}", str(value))
    latencies = [e["data"]["ms"] for e in data["events"] if e["kind"] == "turn.latency"]
    if latencies:
        body.add_row(
            "turn latency",
            f"{min(latencies)}–{max(latencies)} ms from end of speech to the first model audio "
            "(the simulated model answers at once; a real one takes longer, the more so the"
            " more it reasons)",
        )
    ready = [e["data"]["connect_ms"] for e in data["events"] if e["kind"] == "model.ready"]
    if ready:
        body.add_row("pre-warm", f"model session ready {ready[0]} ms after the call was placed")
    console.print(Panel(body, title="call outcome", border_style="green" if ok else "red"))
    return ok


def print_model_notices(notices: list[ShutdownNotice], console: Console) -> None:
    """Configured models' announced shutdowns, for the person at the console (`serve` shows
    them next to where it says it is listening: the log lines may have scrolled away)."""
    for notice in notices:
        style = "red" if notice.level == "error" else "yellow"
        console.print(
            f"[{style}]{notice.level}:[/{style}] {escape(notice.message)}", highlight=False
        )


def show_call(console: Console, data: dict[str, Any]) -> None:
    """A finished call in full: who, status, error, outcome, cost, latency, transcript."""
    record = data["call"]
    duration = record.get("duration_s")
    console.print(
        f"[bold]{record['id']}[/bold]  {record['direction']}  "
        f"{record['from_number']} → {record['to_number']}"
    )
    console.print(
        f"status: {record['status']}  reason: {record.get('end_reason') or '-'}  "
        f"duration: {f'{duration:.1f}s' if duration is not None else '-'}  "
        f"answered by: {record.get('answered_by') or '-'}"
        + (f" (AMD {record['amd_duration_ms']} ms)" if record.get("amd_duration_ms") else "")
    )
    if record.get("schedule_id"):  # a scheduled call, or one of a call's retries
        console.print(
            f"attempt {record.get('attempt') or 1} of schedule {record['schedule_id']}"
            f" (`voicecall-rt calls scheduled`)",
            highlight=False,
        )
    error = describe_error(record)
    if error:
        console.print(f"[red]error:[/red] {escape(error)}", highlight=False)
    outcome = record.get("outcome")
    if outcome:
        mark = "[green]success[/green]" if outcome["success"] else "[red]not achieved[/red]"
        console.print(f"outcome: {mark} — {outcome['summary']}")
        if outcome.get("transferred_to"):
            console.print(f"transferred to: {escape(str(outcome['transferred_to']))}")
        for key, value in (outcome.get("details") or {}).items():
            console.print(f"  {key}: {value}")
    else:
        console.print("outcome: none reported")
    console.print(f"cost: {describe_cost(record.get('cost'))}", highlight=False)
    for event in data.get("events") or ():
        if (guard := guard_note(event["kind"], event.get("data", {}))) is not None:
            console.print(f"guard: {guard}", highlight=False)
    latency = describe_latency(data.get("latency"))
    if latency:
        console.print("latency:")
        for line in latency:
            console.print(f"  {line}", highlight=False)
    if data.get("transcript"):
        console.print("transcript:")
        for line in data["transcript"]:
            mark = " (interrupted)" if line.get("interrupted") else ""
            console.print(
                f"  {line['t_ms'] / 1000:6.1f}s {line['role']:>9}: {line['text']}{mark}",
                highlight=False,
            )


def calls_table(records: list[CallRecord], settings: Settings) -> Table:
    """The call history, one row a call, in the order given."""
    table = Table("id", "started", "dir", "number", "status", "duration", "AMD", "cost", "outcome")
    for r in records:
        started = dt.datetime.fromtimestamp(r.created_at / 1000).strftime("%Y-%m-%d %H:%M:%S")
        number = r.to_number if r.direction == "outbound" else r.from_number
        outcome = (
            "-"
            if r.outcome is None
            else ("✓ " if r.outcome.success else "✗ ") + r.outcome.summary[:40]
        )
        duration = f"{r.duration_s:.0f}s" if r.duration_s is not None else "-"
        table.add_row(
            r.id,
            started,
            r.direction[:3],
            number,
            r.status.value,
            duration,
            r.answered_by or "-",
            format_usd(call_cost(r, settings).total_usd),
            outcome,
        )
    return table
