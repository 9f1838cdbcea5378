"""The cluster's statements on PostgreSQL. Times that decide liveness (heartbeats, leases)
are the database's clock, the one clock every instance shares."""

from __future__ import annotations

from typing import Final

from voicecall_rt.call.records import CallStatus
from voicecall_rt.store.rows import ACTIVE_IN, CALL_COLUMNS

# The database's clock in ms since the epoch (clock_timestamp: not frozen at BEGIN).
NOW: Final = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
# One number for the lock that serialises admissions across instances (a transaction
# lock: released at COMMIT, never left behind by a dead connection).
LIMIT_LOCK: Final = 0x766F6C6D  # "volm"

REGISTER: Final = f"""
    INSERT INTO instances (id, public_url, state, started_at, heartbeat_at)
    VALUES ($1, $2, $3, {NOW}, {NOW})
    ON CONFLICT (id) DO UPDATE SET
        public_url = EXCLUDED.public_url, state = EXCLUDED.state,
        started_at = EXCLUDED.started_at, heartbeat_at = EXCLUDED.heartbeat_at
"""
HEARTBEAT: Final = f"UPDATE instances SET heartbeat_at = {NOW}, state = $2 WHERE id = $1"
RENEW_LEASES: Final = f"""
    UPDATE calls SET lease_until = {NOW} + $2
    WHERE owner = $1 AND status IN {ACTIVE_IN}
"""
# Instances gone this long are forgotten (their calls were settled long before).
FORGET_GONE: Final = f"DELETE FROM instances WHERE heartbeat_at < {NOW} - $1"
DEREGISTER: Final = "DELETE FROM instances WHERE id = $1"

COUNT_LIVE: Final = (
    f"SELECT count(*) FROM calls WHERE status IN {ACTIVE_IN} AND lease_until > {NOW}"
)
# DO NOTHING without a target covers every unique index: the id (never reused) and one
# live call per carrier id — so a conflict is a webhook that came twice.
RESERVE: Final = f"""
    INSERT INTO calls ({", ".join(CALL_COLUMNS)}, owner, lease_until)
    VALUES ({", ".join(f"${i}" for i in range(1, len(CALL_COLUMNS) + 1))},
            ${len(CALL_COLUMNS) + 1}, {NOW} + ${len(CALL_COLUMNS) + 2})
    ON CONFLICT DO NOTHING
    RETURNING id
"""

# Secrets every instance must share (the API token): the first offer stands.
OFFER_SHARED: Final = (
    "INSERT INTO shared_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
)
READ_SHARED: Final = "SELECT value FROM shared_secrets WHERE name = $1"

OWNER: Final = f"SELECT owner FROM calls WHERE id = $1 AND status IN {ACTIVE_IN}"

_SETTLE_SET: Final = f"""
    status = CASE WHEN answered_at IS NOT NULL
                  THEN '{CallStatus.COMPLETED.value}' ELSE '{CallStatus.FAILED.value}' END,
    end_reason = COALESCE(end_reason, $2),
    ended_at = COALESCE(ended_at, $3)
"""
# An earlier run of this very instance (same id) left these live: they are over.
SETTLE_OWN: Final = f"""
    UPDATE calls SET {_SETTLE_SET}
    WHERE owner = $1 AND status IN {ACTIVE_IN}
    RETURNING id
"""
# Live calls whose lease lapsed: their owner stopped heartbeating. One statement, so two
# instances sweeping at once settle each call once (the second finds it terminal).
SWEEP: Final = f"""
    UPDATE calls SET {_SETTLE_SET}
    WHERE status IN {ACTIVE_IN} AND lease_until < {NOW} AND owner IS DISTINCT FROM $1
    RETURNING {", ".join(CALL_COLUMNS)}
"""
