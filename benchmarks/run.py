"""One command for the whole benchmark.

    python -m benchmarks.run --n 1,50,100,200,300 --seconds 20
    python -m benchmarks.run --smoke          # N=5, correctness only, no speed thresholds

For each N it runs our server (driven as each carrier asked for: `--carriers`) and the
bare relay (same machine, same load generator, same run), then writes
benchmarks/results/<date>-<commit>.json, a Markdown table beside it (`report.py`), PNG
plots (latency and CPU against N), refreshes the table in benchmarks/README.md and prints
it.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.calls import RunOptions
from benchmarks.leak_run import run_leak
from benchmarks.profile_summary import summarize as summarize_profile
from benchmarks.renewal_run import renewal_problems, run_renewals
from benchmarks.report import fmt, plots, renewal_table, setup_table, summarize, table, target_label
from benchmarks.run_meta import loadavg, run_meta
from benchmarks.sides import CARRIERS
from benchmarks.steady_run import correctness_problems, run_once
from benchmarks.target_process import REPO

RESULTS = REPO / "benchmarks" / "results"
README = REPO / "benchmarks" / "README.md"
TOP_README = REPO / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
# what each bare relay needs beyond the dev extra (all in the bench extra); `bare` is the
# yardstick every other row's CPU is compared with, the `bare-*` stacks included
BARE_NEEDS = {
    "bare": ("websockets",),
    "bare-aiohttp": ("aiohttp",),
    "bare-picows": ("picows",),
    "bare-starlette": ("starlette", "uvicorn", "websockets"),
    "bare-aiohttp-picows": ("aiohttp", "picows"),
}


async def bench(args: argparse.Namespace) -> int:
    kinds = [k for k in args.targets.split(",") if k]
    for kind in list(kinds):
        needs = BARE_NEEDS.get(kind.split("+")[0], ())
        missing = [m for m in needs if importlib.util.find_spec(m) is None]
        if missing:
            print(f"{', '.join(missing)} not installed (pip install -e '.[bench]'): {kind} skipped")
            kinds.remove(kind)
    if importlib.util.find_spec("uvloop") is None:
        kinds = [k for k in kinds if "uvloop" not in k.split("+")[1:]]
    ns = [int(x) for x in args.n.split(",") if x]
    carriers = [c for c in args.carriers.split(",") if c]
    unknown = [c for c in carriers if c not in CARRIERS]
    if unknown or not carriers:
        print(f"--carriers: one or more of {', '.join(CARRIERS)} (not {unknown})", file=sys.stderr)
        return 2
    # our server is driven as each carrier; a bare relay has no carrier (Twilio's format)
    cells = [
        (kind, carrier)
        for kind in kinds
        for carrier in (carriers if kind.startswith("ours") else ["twilio"])
    ]
    started = dt.datetime.now(dt.UTC)
    meta = run_meta(started, vars(args))
    print(f"load average at start: {meta['loadavg_start']}", flush=True)
    runs: list[dict[str, Any]] = []
    problems: list[str] = []
    for n in ns:
        for rep in range(args.repeat):
            for kind, carrier in cells:
                opts = RunOptions(
                    kind=kind,
                    n=n,
                    seconds=args.seconds,
                    pin=not args.no_pin,
                    barge_every_s=args.barge_every,
                    ramp_per_s=args.ramp,
                    answer_gap_s=args.answer_gap,
                    mixed_endings=not args.stop_only,
                    carrier=carrier,
                )
                label = target_label(kind, carrier)
                print(f"-- {label} N={n} ({rep + 1}/{args.repeat})", flush=True)
                result = await run_once(opts)
                result["repeat"] = rep
                runs.append(result)
                bad = correctness_problems(result)
                problems += [f"{label} N={n}: {p}" for p in bad]
                c = result["cpu"]
                print(
                    f"   µs/frame {fmt(c['us_per_frame'])}  core {fmt(c['core_pct'])}%  "
                    f"up p99 {fmt(result['latency_up_ms']['p99'], 2)} ms  "
                    f"down p99 {fmt(result['latency_down_ms']['p99'], 2)} ms  "
                    f"loadgen {fmt(c['loadgen_core_pct'], 0)}%  "
                    f"{'OK' if not bad else 'PROBLEMS: ' + '; '.join(bad)}",
                    flush=True,
                )
    profiled: dict[str, Any] | None = None
    ours = next((k for k in kinds if k.startswith("ours")), None)
    probed = carriers[0]  # the probes below drive our server as the first carrier asked for
    if args.profile and ours is not None:
        # a run of its own: the sampler pauses the server, so its numbers stay out of the table
        name = (
            f"{ours.replace('+', '-')}-{probed}" if probed != "twilio" else ours.replace("+", "-")
        )
        profile = RESULTS / f"profile-{meta['commit']}-{name}-n{args.profile}.txt"
        print(f"-- profile: {target_label(ours, probed)} N={args.profile} under py-spy", flush=True)
        profiled = await run_once(
            RunOptions(
                kind=ours,
                n=args.profile,
                seconds=args.seconds,
                pin=not args.no_pin,
                barge_every_s=args.barge_every,
                ramp_per_s=args.ramp,
                answer_gap_s=args.answer_gap,
                profile=profile,
                carrier=probed,
            )
        )
        if profile.exists():
            summary = profile.with_name(profile.stem + "-summary.txt")
            summary.write_text(summarize_profile(profile) + "\n")
            profiled["profile"] = {"raw": str(profile), "summary": str(summary)}
            print(f"   {summary}", flush=True)
    setup: list[dict[str, Any]] = []
    if args.setup_probe and ours is not None:
        named = target_label(ours, probed)
        cases = [
            (f"{named}, pre-warm (stream opens 200 ms after the answer webhook)", ours, 0.2),
            (f"{named}, no head start (stream opens at once after the webhook)", ours, 0.0),
            (
                f"{ours}+noprewarm · {probed} (model connected at `start`, stream opens after "
                "200 ms)",
                f"{ours}+noprewarm",
                0.2,
            ),
        ]
        if "bare" in kinds:
            cases.append(("bare relay (connects the model at `start`)", "bare", 0.2))
        for label, kind, gap in cases:
            print(f"-- set-up: {label}", flush=True)
            result = await run_once(
                RunOptions(
                    kind=kind,
                    n=20,
                    seconds=0.5,
                    ramp_per_s=10,
                    answer_gap_s=gap,
                    barge_every_s=0,
                    pin=not args.no_pin,
                    carrier=probed,
                )
            )
            setup.append({"label": label, "kind": kind, "gap_s": gap, **result})
    renewal: dict[str, Any] | None = None
    if args.renewals and ours is not None:
        label = target_label(ours, probed)
        print(f"-- session renewal: {args.renewals} renewals, {label}", flush=True)
        renewal = await run_renewals(
            kind=ours,
            renewals=args.renewals,
            calls=args.renewal_calls,
            phase=args.renewal_phase,
            pin=not args.no_pin,
            carrier=probed,
        )
        bad = renewal_problems(renewal)
        problems += [f"session renewal: {p}" for p in bad]
        print(
            f"   gap p99 {fmt(renewal['gap_ms']['p99'], 2)} ms  lost "
            f"{renewal['frames']['lost_up']}  {'OK' if not bad else 'PROBLEMS: ' + '; '.join(bad)}",
            flush=True,
        )
    leak: dict[str, Any] | None = None
    if args.leak:
        print(f"-- leak check: {args.leak} sequential calls, ours · {probed}", flush=True)
        leak = await run_leak(total=args.leak, pin=not args.no_pin, carrier=probed)
        if leak["failed"] or leak["lost"] or leak["reordered"] or leak["model_sockets_left"]:
            problems.append(f"leak check: {leak}")
    rows = []
    for n in ns:
        for kind, carrier in cells:
            group = [
                r for r in runs if r["n"] == n and r["kind"] == kind and r["carrier"] == carrier
            ]
            if group:
                rows.append(summarize(group))
    meta["loadavg_end"] = loadavg()
    stamp = started.strftime("%Y%m%d-%H%M%S")
    stem = (RESULTS if not args.smoke else Path(args.out or RESULTS)) / (
        f"{stamp}-{meta['commit']}" + ("-smoke" if args.smoke else "")
    )
    header = (
        f"Machine: {meta['machine']['cpu']} ({meta['machine']['cores']} cores), Python "
        f"{meta['machine']['python']}; date {meta['date']}; commit {meta['commit']}"
        f"{' (dirty tree)' if meta['dirty'] else ''}; "
        + (
            f"{args.seconds:g} s steady window per run, {args.repeat} run(s) per cell (medians); "
            if rows
            else "probes only; "
        )
        + f"load average at start {meta['loadavg_start']}, at end {meta['loadavg_end']}."
    )
    md = header + ("\n\n" + table(rows) if rows else "")
    if setup:
        md += "\n\n" + setup_table(setup)
    if renewal:
        md += "\n\n" + renewal_table(renewal)
    if leak:
        md += (
            f"\n\nLeak check: {leak['calls']} calls in waves of {leak['wave']}: RSS "
            f"{leak['waves'][0]['rss_mb']} → {leak['waves'][-1]['rss_mb']} MB "
            f"({leak['rss_growth_kb_per_100_calls']:+} KB per 100 calls over the second "
            f"half), descriptors {leak['fds_growth']:+}, model sockets left "
            f"{leak['model_sockets_left']}, failed {leak['failed']}, lost {leak['lost']}."
        )
    if problems:
        md += "\n\nCorrectness problems:\n" + "\n".join(f"- {p}" for p in problems)
    print()
    print(md)
    if not args.no_write:
        stem.parent.mkdir(parents=True, exist_ok=True)
        data = {
            **meta,
            "rows": rows,
            "setup": setup,
            "renewal": renewal,
            "leak": leak,
            "profiled_run": profiled,
            "runs": runs,
            "problems": problems,
        }
        stem.with_suffix(".json").write_text(json.dumps(data, indent=1, default=str))
        images = plots(rows, stem) if rows and not args.smoke else []
        body = md + "".join(f"\n\n![{p.stem}]({p.name})" for p in images)
        stem.with_suffix(".md").write_text(body + "\n")
        print(f"\nwrote {stem}.json, {stem}.md" + "".join(f", {p}" for p in images))
        # a run of the probes alone (`--n ""`) must not replace the full results
        if not args.smoke and not args.no_readme and rows:
            _update_readme(md, images)
    if problems:
        print(f"\n{len(problems)} correctness problem(s)", file=sys.stderr)
        return 1
    return 0


def _update_readme(md: str, images: list[Path]) -> None:
    """Replace the results between the markers in this folder's README and the project's."""
    for readme, folder in ((README, "results/"), (TOP_README, "benchmarks/results/")):
        if not readme.exists():
            continue
        text = readme.read_text()
        if BEGIN not in text or END not in text:
            continue
        pictures = "".join(f"\n\n![{p.stem}]({folder}{p.name})" for p in images)
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        readme.write_text(f"{head}{BEGIN}\n{md}{pictures}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument(
        "--n",
        default="1,50,100,200,300",
        help='concurrent calls, comma list ("": no load table, the probes alone)',
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="steady window per run")
    parser.add_argument(
        "--targets",
        default="ours+uvloop,bare",
        help="comma list of ours, bare (websockets: the yardstick), and bare-aiohttp, "
        "bare-picows, bare-starlette (the same relay on other server stacks); +uvloop: "
        "the target on uvloop, +nolimit: ours without its client's connection limit",
    )
    parser.add_argument(
        "--carriers",
        default="twilio",
        help=f"comma list of {', '.join(CARRIERS)}: our server is driven as each (a row per "
        "carrier; the bare relays always as Twilio); the probes use the first",
    )
    parser.add_argument("--carrier", dest="carriers", help="one carrier (same as --carriers)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell (medians)")
    parser.add_argument("--ramp", type=float, default=100.0, help="calls admitted per second")
    parser.add_argument(
        "--answer-gap", type=float, default=0.2, help="call answered → stream open, s"
    )
    parser.add_argument("--barge-every", type=float, default=5.0, help="s per call; 0: off")
    parser.add_argument("--profile", type=int, default=0, help="py-spy our server at this N")
    parser.add_argument("--no-setup-probe", dest="setup_probe", action="store_false")
    parser.add_argument(
        "--renewals",
        type=int,
        default=20,
        help="session-renewal probe: this many model sessions ended under live calls "
        "(session_expired, close 1001), the caller-audio gap measured (0: skip)",
    )
    parser.add_argument(
        "--renewal-calls", type=int, default=4, help="renewal probe: calls sharing them"
    )
    parser.add_argument(
        "--renewal-phase",
        choices=("random", "after-frame"),
        default="random",
        help="renewal probe: when in the 20 ms frame cycle a session ends",
    )
    parser.add_argument(
        "--leak",
        type=int,
        default=2000,
        help="leak check: this many calls, growth read over the second half (0: skip)",
    )
    parser.add_argument("--no-pin", action="store_true", help="do not pin to separate cores")
    parser.add_argument(
        "--stop-only",
        action="store_true",
        help="end every call with `stop` (default: in turn stop, dropped carrier, model side)",
    )
    parser.add_argument(
        "--std-loadgen", action="store_true", help="load generator on asyncio, not uvloop"
    )
    parser.add_argument("--no-readme", action="store_true", help="leave README.md alone")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--out", default=None, help="smoke: where to write (default: none)")
    parser.add_argument("--smoke", action="store_true", help="N=5, 5 s, correctness only")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.seconds, args.setup_probe, args.leak = "5", 5.0, False, 0
        # renewal mechanics only: a session ends just after a caller frame, never racing one
        args.renewals, args.renewal_calls, args.renewal_phase = 2, 2, "after-frame"
        args.barge_every = 1.0
        args.no_write = args.out is None
    if not args.std_loadgen and importlib.util.find_spec("uvloop") is not None:
        import uvloop  # the load generator's own loop: a cheaper generator, truer numbers

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
