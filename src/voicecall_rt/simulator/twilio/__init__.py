"""A fake Twilio for the offline demo and the integration tests (docs/protocols.md §4).

`FakeTwilio` (`carrier`) plays three parts, each over real loopback sockets:

* the REST API (`rest`, its JSON shapes in `resources`: `Calls.json` create/update, account
  and number look-ups), with Basic auth and Twilio's error JSON, so the official `twilio`
  SDK can point its base URL at it;
* the webhook client (`webhooks`): status callbacks, the answer/voice URL, async AMD and
  `<Stream>` status callbacks, all form POSTs signed with `X-Twilio-Signature` exactly as
  Twilio does, with the Auth Token (HMAC-SHA1, the default) or a Webhook Setting's SharedKey
  (`shared_key=`, announced by `X-Twilio-Webhooks-Signature-Settings`; `simulator.signing`);
  the TwiML it gets back is run by `twiml`;
* the far end of a `<Connect><Stream>` (`media_stream`): a Media Streams WebSocket client
  that sends `connected`/`start` and then one 160-byte µ-law frame every 20 ms at a real,
  drift-free pace, and "plays" what our server sends at 8 bytes per ms (marks, `clear`),
  decoding any keypad tones it hears. Its messages, both ways, are `carrier.twilio.wire`'s.

It plays Twilio by default, or a Twilio-compatible carrier: what such a carrier does its own
way (REST prefix, signature header and key, ids, `TimeLimit`, `<Stream>` rules, the
stream's messages) is a `Dialect` (`dialect`; SignalWire's is `simulator.signalwire`).

What is not Twilio's is carrier-neutral and lives in `simulator`: the call and its records
(`sim_call`), the 20 ms clock (`far_end`), playback and the mark ledger (`playout`, which
states the playback model), the caller's audio (`caller_audio`, `keypad`, `line`), the
callee's script (`callee`) and the tunnel (`tunnel`).

Like a real tunnel (ngrok, cloudflared), requests are signed over the public URL our server
configured (`https://voice.demo.test/...`) but delivered to the local base it listens on
(`http://127.0.0.1:3335/...`), with the public `Host` preserved.

What the far party does once connected comes from a `CallPlan` (`simulator.scenario`),
played by `simulator.callee`.

As strict as Twilio where our server could otherwise get away with something (each strictness
can be relaxed by a flag, for tests that need to look at one thing at a time):

* `<Stream url>` must be `wss://` (Twilio error 31922, "wss is the only supported protocol");
  a `ws://` stream is refused like a failed handshake (`allow_ws_stream=True` relaxes it).
* `<Stream url>` loses its query string (the `<Stream>` doc: url "does not support query
  string parameters"; data goes in `<Parameter>`), so our server cannot rely on one
  (`keep_stream_query=True` keeps it).
* When our server closes the media WebSocket, the TwiML goes on (`<Connect action>` or the
  next verb) and when it runs out the call ends `completed`, as Twilio's does ("Twilio
  resumes the remaining TwiML only after your server closes the WebSocket connection",
  error 31921). `stay_up_after_stream=True` keeps the call up instead, in silence, until our
  server hangs up via REST, TimeLimit fires, the far party hangs up or the fake closes.
* `TimeLimit` above `max_time_limit_s` (14400 s, Twilio's default 4 h call limit) is refused
  with HTTP 400; accounts whose limit was raised (up to 24 h) set 86400.
* REST `Status=canceled` does nothing to an answered call; `Status=completed` ends a call in
  any state (a queued or ringing one ends `canceled`), as the Call resource doc says.
* What our server sends on the stream is read as Twilio uses it: a wrong or missing
  `streamSid`, a `media` without a base64 payload, a `mark` without a name or an unknown
  event is ignored and recorded in `SimCall.protocol_errors`.
* `CallPlan(jitter_ms=, loss_rate=)` makes the caller's media late or missing
  (`simulator.line`); `PressKeys` puts keypad tones in the caller's audio and sends the
  `dtmf` message (`simulator.keypad`).

Deliberate simplifications (documented so tests do not lean on them):

* A stream that cannot be opened (refused handshake, `ws://`) is a failed verb: it is
  recorded in `SimCall.notifications` with Twilio's error code, the TwiML goes on and, when
  it runs out, the call ends `completed`.
* A REST update with `Twiml` (a transfer's `<Dial>`) stops the running TwiML: the stream
  gets `stop` and is closed. `<Dial callerId>` must be the call's calling or called number
  or the account's (Twilio's error 13214: recorded, nothing dialled, the TwiML goes on);
  a `<Dial>` is recorded in `SimCall.transfers` and its party is taken to answer and hang
  up at once (the call then ends `completed`). An update of a call that is over is refused
  (HTTP 400, 21220).
* Verbs other than `<Say>`, `<Pause>`, `<Hangup>`, `<Reject>`, `<Connect><Stream>` and
  `<Dial><Number>` are recorded in `SimCall.unsupported` and end the call.
"""
