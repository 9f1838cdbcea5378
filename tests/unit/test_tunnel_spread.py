"""The simulated tunnel as a load balancer: one public origin spread over several local
bases in turn, the others still routed to one."""

from __future__ import annotations

import pytest

from voicecall_rt.simulator.tunnel import Tunnel


def test_a_spread_origin_takes_its_bases_in_turn() -> None:
    tunnel = Tunnel({"https://a.voice.test": "http://127.0.0.1:1001"})
    tunnel.spread("https://voice.test", ["http://127.0.0.1:1001/", "http://127.0.0.1:1002"])
    delivered = [tunnel.local_url("https://voice.test/voice/answer?x=1") for _ in range(3)]
    assert delivered == [
        "http://127.0.0.1:1001/voice/answer?x=1",
        "http://127.0.0.1:1002/voice/answer?x=1",
        "http://127.0.0.1:1001/voice/answer?x=1",
    ]
    # An instance's own host still reaches that instance only, and headers keep the host.
    assert tunnel.local_url("wss://a.voice.test/s") == "ws://127.0.0.1:1001/s"
    assert tunnel.headers("https://voice.test/voice/answer")["Host"] == "voice.test"


def test_spreading_over_nothing_is_refused() -> None:
    with pytest.raises(ValueError, match="no local base"):
        Tunnel({}).spread("https://voice.test", [])
