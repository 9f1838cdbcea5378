"""Tables both backends create alike, but for their type names: `{json}` (SQLite keeps
JSON as text, PostgreSQL as jsonb) and `{big}` (epoch milliseconds)."""

from __future__ import annotations

from typing import Final

# A call to place later, and the follow-up attempts of one that did not get through. Each
# attempt is its own row in `calls` (calls.schedule_id, calls.attempt). `state`: pending
# (due at due_at), placing (an instance claimed it until claimed_until), waiting (its
# latest attempt is live), then done, canceled or failed, with `reason`.
SCHEDULES_COLUMNS: Final = """
    id                 TEXT PRIMARY KEY,
    to_number          TEXT NOT NULL,
    task               TEXT NOT NULL DEFAULT '',
    system_prompt      TEXT,
    notify_session_key TEXT,
    outcome_schema     {json},
    created_at         {big} NOT NULL,
    due_at             {big} NOT NULL,
    state              TEXT NOT NULL
        CHECK (state IN ('pending', 'placing', 'waiting', 'done', 'canceled', 'failed')),
    attempts_made      INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER NOT NULL CHECK (max_attempts >= 1),
    retry              {json},
    when_allowed       INTEGER NOT NULL DEFAULT 0 CHECK (when_allowed IN (0, 1)),
    claimed_by         TEXT,
    claimed_until      {big},
    first_call_id      TEXT,
    last_call_id       TEXT,
    reason             TEXT,
    updated_at         {big} NOT NULL
"""

# Numbers never to call: the configured blocklist is in the settings; these were recorded
# (a callee who asked not to be called again, `source` = 'do-not-call').
BLOCKED_COLUMNS: Final = """
    number     TEXT PRIMARY KEY,
    source     TEXT NOT NULL,
    reason     TEXT NOT NULL DEFAULT '',
    call_id    TEXT,
    created_at {big} NOT NULL
"""
