"""A local stand-in for OpenAI's Realtime API (GA protocol, docs/protocols.md §1) plus `/v1/models`.

Nothing here reaches OpenAI, so the offline demo and the integration tests talk to this server
instead, over the same wire protocol: Bearer auth on the upgrade, `?model=`, JSON text frames,
GA event names and payload shapes, and the event orders of docs/protocols.md §1.7. What the
"model" says comes from a `ModelScript`: every response plays the next scripted turn.

Fidelity choices worth knowing (issue 9: the fake is as strict as the real API; a bad day
at OpenAI is opt-in, what the real API always does is the default):
- Every client event is checked against the openai SDK's own types *and* for unknown keys
  (`client_event_check`), because the real API rejects beta leftovers the SDK would accept,
  and then against what the real server refuses beyond the types (`realtime_rules`: PCM
  without `rate`, `reasoning` for a non-reasoning model, truncating a non-audio item, an
  output for an unknown `call_id`, …). Every error echoes the client's `event_id`. Refusals
  are recorded in `FakeSession.invalid` (except harmless races, `realtime_rules.RACE_CODES`).
- Every server event sent is checked against the SDK's types (`server_event_check`); a
  malformed one lands in `FakeRealtimeServer.malformed`.
- Generation is faster than real time by default (`pace=0`), like the real API; the bridge must
  pace playback itself. A cancelled response (client `response.cancel` or a VAD barge-in)
  still delivers `tail_deltas` audio deltas already in flight (default 1), which count as
  generated audio, then `response.done` with status `cancelled`.
- Each response starts with `response.created` then `rate_limits.updated` (`rate_limits`).
- Caller speech is found with a plain energy VAD on the decoded audio (no ML); the end of a
  turn follows `turn_timing` (semantic VAD waits hundreds of ms to seconds by eagerness and
  by how finished the scripted words sound; server VAD its `silence_duration_ms`). Keypad
  tones never reach the model, so they need no special casing.
- Input transcription is asynchronous: deltas then `.completed` (or `.failed` for a
  `TranscriptionFailure`/None entry) arrive after the response that utterance started has
  begun and sent its first audio delta, or has ended when it has no audio (a tool call);
  in spoken order; at once when no response was started (`late_transcripts=False`: before
  `response.created`, the old order).
- Scripted `Fail`/`Incomplete` actions end a response `failed`/`incomplete`
  (`model_errors` has the real account and server failures); an integer
  `max_output_tokens` cuts a response `incomplete` too.
- A session lives `session_lifetime_s` (default 3600, as `expires_at` says), then gets
  `error` `session_expired` and a 1001 close.
- The script cursors (next turn, next caller transcript) belong to the server, not to a
  connection: a bridge that reconnects after a drop continues the same scripted conversation,
  the way a real model would keep following the call.

Not modelled: idle timeouts (`idle_timeout_ms`), MCP tools, transcription sessions, A-law
output (pcma is accepted but answered in µ-law, with a warning in the log), reasoning
latency, real rate-limit enforcement (script a `Fail` instead), transcript removal on
truncation.

Where each part lives, by protocol concern:
- `server`: `FakeRealtimeServer`, its knobs and test hooks, `/v1/models`, the upgrade;
  `handshake`: auth before the upgrade and the refusals right after it.
- `session`: `FakeSession`, one connection (dispatch, `session.update`, lifetime);
  `session_config`: the config's defaults and merging; `wire`: sending events and errors;
  `tasks`: a session's background tasks.
- `input_audio`: `input_audio_buffer.*` and VAD turn detection (`turn_timing`);
  `caller_transcription`: the input transcription events and their timing.
- `conversation`: `conversation.item.*`.
- `responses`: `response.create`/`.cancel` and each response's run; `response_state`: one
  response and its final status; `response_output`: audio, transcript and function-call
  deltas; `usage`: token counts; `rate_limits`: `rate_limits.updated`.
- Checks and data: `client_event_check`, `server_event_check` (with `sdk_types`),
  `realtime_rules`, `model_errors` (scripted faults), `synthetic_audio` (the voice and the
  audio formats).
"""
