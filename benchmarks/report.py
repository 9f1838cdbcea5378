"""What a benchmark run reports: one row per target, carrier and N from its repeated runs
(`summarize`), the load table (`table`), the set-up and session-renewal tables, and the
plots. A row of our server is named by its carrier too; its CPU per frame is compared with
the bare relay's at the same N in the same run, with the cheapest featureless relay's
(`bare-picows`) when it ran, and with Twilio's row when several carriers ran.
"""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path
from typing import Any

from benchmarks.sides import CARRIERS


def _median(runs: list[dict[str, Any]], *path: str) -> float | None:
    values = []
    for run in runs:
        node: Any = run
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, int | float):
            values.append(float(node))
    return statistics.median(values) if values else None


def _worst(runs: list[dict[str, Any]], *path: str) -> int:
    worst = 0
    for run in runs:
        node: Any = run
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, int | float):
            worst = max(worst, int(node))
    return worst


def target_label(kind: str, carrier: str) -> str:
    """How a row is named: our server with the carrier it was driven as; a bare relay has
    no carrier (it is always driven as Twilio)."""
    return f"{kind} · {carrier}" if kind.startswith("ours") else kind


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row from repeated runs of one target and carrier at one N: medians, and worst
    counts."""
    carrier = runs[0].get("carrier", "twilio")
    return {
        "kind": runs[0]["kind"],
        "carrier": carrier,
        "target": target_label(runs[0]["kind"], carrier),
        "n": runs[0]["n"],
        "repeats": len(runs),
        "up_p50": _median(runs, "latency_up_ms", "p50"),
        "up_p99": _median(runs, "latency_up_ms", "p99"),
        "down_p50": _median(runs, "latency_down_ms", "p50"),
        "down_p99": _median(runs, "latency_down_ms", "p99"),
        "us_per_frame": _median(runs, "cpu", "us_per_frame"),
        "core_pct": _median(runs, "cpu", "core_pct"),
        "loadgen_pct": _median(runs, "cpu", "loadgen_core_pct"),
        "loadgen_lag_p99": _median(runs, "cpu", "loadgen_lag_ms", "p99"),
        "mb_per_call": _median(runs, "memory", "mb_per_call"),
        "failed": _worst(runs, "calls", "failed"),
        "lost": max(_worst(runs, "frames", "lost_up") + _worst(runs, "frames", "lost_down"), 0),
        "reordered": _worst(runs, "frames", "reordered"),
        "left_sockets": _worst(runs, "leftovers", "model_sockets")
        + _worst(runs, "leftovers", "model_sessions_open"),
        "left_fds": _worst(runs, "leftovers", "fds_over_baseline"),
        "barge_p50": _median(runs, "barge_in_ms", "p50"),
        "barge_p99": _median(runs, "barge_in_ms", "p99"),
        "setup_p50": _median(runs, "setup_ms", "p50"),
        "setup_p99": _median(runs, "setup_ms", "p99"),
    }


def fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ratio(row: dict[str, Any], base: dict[str, Any] | None) -> str:
    if base is None or base is row or not base["us_per_frame"] or not row["us_per_frame"]:
        return "–"
    return f"{row['us_per_frame'] / base['us_per_frame']:.2f}×"


def _order(row: dict[str, Any]) -> tuple[int, bool, str, int]:
    carrier = row.get("carrier", "twilio")
    rank = CARRIERS.index(carrier) if carrier in CARRIERS else len(CARRIERS)
    return row["n"], row["kind"].startswith("bare"), row["kind"], rank


def table(rows: list[dict[str, Any]]) -> str:
    """The load table. CPU per frame is divided by the bare relay's at the same N (the
    `ours/bare` column), by `bare-picows`'s when it ran (the cheapest featureless relay),
    and, when several carriers ran, by the same target's Twilio row (issue 12's goal:
    within 10 %)."""
    bare = {r["n"]: r for r in rows if r["kind"] == "bare"}
    picows = {r["n"]: r for r in rows if r["kind"] == "bare-picows"}
    ours = [r for r in rows if r["kind"].startswith("ours")]
    twilio = {(r["n"], r["kind"]): r for r in ours if r.get("carrier", "twilio") == "twilio"}
    by_carrier = len({r.get("carrier", "twilio") for r in ours}) > 1
    extra = (" ÷ bare-picows |" if picows else "") + (" ÷ twilio |" if by_carrier else "")
    lines = [
        "| N | target | caller→model p50 / p99 ms | model→caller p50 / p99 ms | CPU µs/frame "
        f"| ours/bare |{extra} core % | MB/call | failed | lost / reordered "
        "| leftovers (sockets, fds) | barge-in p50 / p99 ms | loadgen core % / lag p99 ms |",
        "|---:|---|---:|---:|---:|---:|"
        + "---:|" * (bool(picows) + by_carrier)
        + "---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=_order):
        ratios = _ratio(r, bare.get(r["n"]))
        if picows:
            ratios += " | " + (_ratio(r, picows.get(r["n"])) if r["kind"] != "bare" else "–")
        if by_carrier:
            same = twilio.get((r["n"], r["kind"])) if r["kind"].startswith("ours") else None
            ratios += " | " + _ratio(r, same)
        lines.append(
            f"| {r['n']} | {r.get('target', r['kind'])} | {fmt(r['up_p50'], 2)} / "
            f"{fmt(r['up_p99'], 2)} | {fmt(r['down_p50'], 2)} / {fmt(r['down_p99'], 2)} "
            f"| {fmt(r['us_per_frame'])} | {ratios} | {fmt(r['core_pct'])} "
            f"| {fmt(r['mb_per_call'], 3)} | {r['failed']} "
            f"| {r['lost']} / {r['reordered']} | {r['left_sockets']}, {r['left_fds']} "
            f"| {fmt(r['barge_p50'], 2)} / {fmt(r['barge_p99'], 2)} "
            f"| {fmt(r['loadgen_pct'], 0)} / {fmt(r['loadgen_lag_p99'], 1)} |"
        )
    return "\n".join(lines)


def setup_table(setup: list[dict[str, Any]]) -> str:
    lines = [
        "| set-up case | calls | stream `start` → first caller frame at the model: p50 / p99 "
        "/ max ms |",
        "|---|---:|---:|",
    ]
    for s in setup:
        ms = s["setup_ms"]
        lines.append(
            f"| {s['label']} | {ms['n']} | {fmt(ms['p50'], 2)} / {fmt(ms['p99'], 2)} "
            f"/ {fmt(ms['max'], 2)} |"
        )
    return "\n".join(lines)


def renewal_table(r: dict[str, Any]) -> str:
    gap, ready, server, frames = r["gap_ms"], r["ready_ms"], r["server"], r["frames"]
    steady, sgap = r["steady_delay_ms"], server.get("gap_ms") or {}
    lost = frames["lost_up"]
    detail = ""
    if lost:
        # in flight: relayed to the old session after the model had ended it, and not
        # resent; the rest never left our server
        late = frames["after_end"]
        detail = f" ({late} reached the ended session)"
    lines = [
        "| session renewal (the model ends a session under a live call: `session_expired`, "
        "close 1001) | renewals | caller-audio gap: worst delay of the caller frames a "
        "renewal can hold up, p50 / p99 / max ms | session ended → new one confirmed, p50 / "
        "p99 / max ms | every other caller frame meanwhile, p50 / p99 ms | caller frames lost "
        "/ duplicated | uncommitted frames resent to the new session | server's "
        "`model.renewed` gap_ms p50 / p99 / max |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| {target_label(r['kind'], r.get('carrier', 'twilio'))}, {r['calls']} calls, each "
        f"renewed every {r['every_s']:g} s (one every "
        f"{r['every_s'] / r['calls']:g} s, in turn; {r['phase']} phase in the 20 ms frame "
        f"cycle) | {r['observed']} of {r['renewals_asked']} "
        f"| {fmt(gap['p50'], 2)} / {fmt(gap['p99'], 2)} / {fmt(gap['max'], 2)} "
        f"| {fmt(ready['p50'], 2)} / {fmt(ready['p99'], 2)} / {fmt(ready['max'], 2)} "
        f"| {fmt(steady['p50'], 2)} / {fmt(steady['p99'], 2)} "
        f"| {lost}{detail} / {frames['duplicates']} "
        f"| {frames.get('resent', 0)} "
        f"| {fmt(sgap.get('p50'), 0)} / {fmt(sgap.get('p99'), 0)} / {fmt(sgap.get('max'), 0)} |",
    ]
    return "\n".join(lines)


def plots(rows: list[dict[str, Any]], stem: Path) -> list[Path]:
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib is not installed (pip install -e '.[bench]'): no plots")
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    kinds = sorted({r["target"] for r in rows}, key=lambda k: (k.startswith("bare"), k))
    colors = {k: f"C{i}" for i, k in enumerate(kinds)}

    def series(kind: str) -> list[dict[str, Any]]:
        # a cell with failed calls measured something else: left out of the lines
        rs = [r for r in rows if r["target"] == kind and not r["failed"]]
        return sorted(rs, key=lambda r: r["n"])

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for kind in kinds:
        rs = series(kind)
        ns = [r["n"] for r in rs]
        for ax, key, title in (
            (axes[0], "up", "caller → model"),
            (axes[1], "down", "model → caller"),
        ):
            c = colors[kind]
            ax.plot(ns, [r[f"{key}_p50"] for r in rs], "o--", color=c, label=f"{kind} p50")
            ax.plot(ns, [r[f"{key}_p99"] for r in rs], "o-", color=c, label=f"{kind} p99")
            ax.set_title(f"frame latency through the relay, {title}")
            ax.set_xlabel("concurrent calls")
            ax.set_ylabel("ms (log)")
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    path = stem.with_name(stem.name + "-latency.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    out.append(path)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for kind in kinds:
        rs = [r for r in series(kind) if r["n"] > 1]  # one call is all fixed overhead
        ns = [r["n"] for r in rs]
        axes[0].plot(ns, [r["us_per_frame"] for r in rs], "o-", color=colors[kind], label=kind)
        axes[1].plot(ns, [r["core_pct"] for r in rs], "o-", color=colors[kind], label=kind)
    axes[0].set_title("server CPU per relayed frame")
    axes[0].set_ylabel("µs / frame")
    axes[0].set_ylim(bottom=0)
    axes[1].set_title("server core used")
    axes[1].set_ylabel("% of one core")
    axes[1].axhline(50, color="grey", ls=":", lw=1)
    for ax in axes:
        ax.set_xlabel("concurrent calls")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    path = stem.with_name(stem.name + "-cpu.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    out.append(path)
    return out
