"""The simulated Twilio account and tunnel, in one place for both processes.

The load generator signs its webhooks and opens its media streams with these values, and
the target server (`benchmarks/target.py`, a process of its own) is configured with the
same ones, so both import them from here rather than from either side's module. The other
carriers' accounts are their simulator fakes' own (`benchmarks/sides/`).
"""

from __future__ import annotations

# The simulated Twilio account and tunnel (the same values the simulator uses).
ACCOUNT_SID = "AC" + "5e" * 16
AUTH_TOKEN = "sim-auth-token-0123456789abcdef"
API_KEY = "sk-bench-offline"
FROM_NUMBER = "+14155550100"
PUBLIC_URL = "https://voice.voicecall-rt.test"
