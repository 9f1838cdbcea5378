"""The benchmark's CI smoke: 6 calls for 5 s through our real server, correctness only,
and a small session-renewal probe, with the load generator playing each carrier (its
webhooks, its stream token, its stream messages: `benchmarks/sides/`).

A benchmark is not a timed test: nothing here looks at speed. It shows the load generator
and the server agree on every frame (none lost, none reordered, none unexplained) and that
when the calls end, nothing of them is left in the server (model sockets, descriptors),
whether a call ended with the carrier's `stop` (Plivo, which has none, closes the
socket), a dropped carrier connection, or the
model ending it (an account error). The renewal probe shows a session the model ends
under a live call (`session_expired`, close 1001) is renewed and no caller frame is lost
or doubled on the way.
The cluster smoke runs `python -m benchmarks.cluster_run --smoke`: two instances on one
PostgreSQL hold every call beside one on SQLite, the database's writes are counted, and
a SIGTERM drain under load drops no call.
Needs only the `dev` extra: without psutil the server is read from /proc.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from benchmarks.calls import RunOptions
from benchmarks.renewal_run import renewal_problems, run_renewals
from benchmarks.steady_run import correctness_problems, run_once
from benchmarks.target_process import REPO

from tests.helpers.outside_judges import missing_tool
from tests.helpers.postgres_server import PostgresMissingError, find_postgres

pytestmark = [
    pytest.mark.slow,  # seconds of calls at real pace
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="reads the server process from /proc"
    ),
]


# How a call the caller ended the ordinary way ends in our server's record.
ORDINARY_END = {
    "twilio": "carrier-stop",
    "telnyx": "carrier-stop",
    "plivo": "carrier-closed",  # Plivo has no `stop`: the stream ends with its socket
    "signalwire": "carrier-stop",
}


@pytest.mark.timeout(60)
async def test_benchmark_smoke_six_calls_no_loss_no_leftovers_however_they_end(
    carrier: str,
) -> None:
    result = await run_once(
        RunOptions(
            kind="ours",
            n=6,
            seconds=5.0,
            pin=False,
            barge_every_s=1.0,
            mixed_endings=True,
            carrier=carrier,
        )
    )

    assert result["carrier"] == carrier
    # correctness_problems also checks that the leftover counters saw the live calls,
    # and that exactly the model-ended calls were hung up through the carrier's API.
    assert correctness_problems(result) == [], result
    assert result["endings"] == {"stop": 2, "drop": 2, "model": 2}
    frames = result["frames"]
    # 50 frames a second each way for every call; a relay that dropped a direction would
    # show zero here rather than as lost frames.
    assert frames["sent_up"] >= 6 * 5 * 50 * 0.9
    assert frames["sent_down"] == frames["sent_up"]
    # every delta was followed by a playback mark (the last ones may be cut by a hang-up),
    # and barge-in reached the carrier
    assert result["marks_received"] >= frames["sent_down"] - 6
    assert result["barge_ins"]["clears"] >= 1
    assert result["leftovers"]["clean_after_s"] is not None
    assert result["target_exit"] == 0


@pytest.mark.timeout(60)
async def test_benchmark_renewal_probe_every_session_renewed_no_caller_frame_lost(
    carrier: str,
) -> None:
    # Each session ends just after a caller frame reached it: the next one is ~20 ms away,
    # so the renewal itself is checked, not a frame racing the close (the probe's random
    # phase measures that).
    result = await run_renewals(
        kind="ours", renewals=2, calls=2, phase="after-frame", pin=False, carrier=carrier
    )

    assert renewal_problems(result) == [], result
    assert [row["observed"] for row in result["per_renewal"]] == [True, True]
    frames = result["frames"]
    assert frames["sent_up"] > 0
    assert frames["received_up"] == frames["sent_up"]
    assert frames["lost_up"] == frames["duplicates"] == frames["after_end"] == 0
    # two calls, each on a first session and one renewed: each configured the same way
    assert result["sessions_total"] == 4
    assert result["model_client_events"]["session.update"] == 4
    assert result["server"]["causes"] == {"expired": 2}
    assert result["server"]["end_reasons"] == {ORDINARY_END[carrier]: 2}
    assert result["leftovers"]["clean_after_s"] is not None
    assert result["target_exit"] == 0


@pytest.mark.timeout(240)
def test_cluster_benchmark_smoke_two_instances_hold_every_call_and_a_drain_drops_none(
    tmp_path: Path,
) -> None:
    # `python -m benchmarks.cluster_run --smoke` as a user runs it (its own throwaway
    # PostgreSQL); unpinned: other tests share the machine's cores.
    try:
        find_postgres()
    except PostgresMissingError as missing:
        missing_tool(str(missing), "on this machine")
    command = [sys.executable, "-m", "benchmarks.cluster_run", "--smoke", "--no-pin"]
    done = subprocess.run(
        [*command, "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=220,
        check=False,
    )
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed
    [written] = tmp_path.glob("*-cluster-smoke.json")
    result = json.loads(written.read_text())
    assert result["problems"] == [], printed

    rows = {row["target"]: row for row in result["rows"]}
    assert set(rows) == {"1× ours+uvloop · SQLite", "2× ours+uvloop · PostgreSQL"}
    for row in rows.values():
        counts = (row["held"], row["failed"], row["dropped"], row["lost"])
        assert (row["n"], *counts) == (4, 4, 0, 0, 0), row
    [cluster] = result["runs"]["cluster"]
    # the load generator spread the calls over both instances, each through its own host
    assert cluster["calls"]["per_instance"] == {"vc-1": 2, "vc-2": 2}
    assert cluster["target_exit"] == {"vc-1": 0, "vc-2": 0}
    db = cluster["db"]
    assert db["rows_per_call"] > 0 and db["commits_per_call"] > 0
    # every call is in the database with what was said on it
    assert db["tables"]["calls"]["inserted"] == 4
    assert db["tables"]["transcript"]["inserted"] > 0 and db["tables"]["events"]["inserted"] > 0

    [drain] = result["drain"]
    assert drain["calls_on_draining"] == 2
    assert drain["streamed_through_drain"] == 2  # the calls went on through the drain
    assert drain["dropped_calls"] == 0 and drain["lost_frames_on_draining"] == 0
    assert drain["refused_at_draining"] is True
    assert drain["db"]["owners_of_new_calls"] == {"vc-2": 2}
    assert drain["db"]["end_reasons_on_draining"] == {"carrier-stop": 2}
    assert drain["exit_code"] == 0
