"""A fake Plivo for the offline demo and the integration tests (docs/protocols.md §7).

`FakePlivo` (`carrier`) plays three parts over real loopback sockets:

* the REST API (`rest`) under `/v1/Account/{auth_id}/`, Basic auth, JSON bodies and
  Plivo's shapes, so the official `plivo` SDK can point its base URL at it: a dial answers
  only a request uuid; hang-up, cancel of a request not yet answered, DTMF, the account
  and its numbers;
* the webhook client (`webhooks`): the answer URL, `ring_url`, `hangup_url` and
  `machine_detection_url`, form posts signed with Plivo's V3 scheme (the plivo package's
  own signing functions); the XML it gets back is run by `xml`;
* the far end of a `<Stream>` (`media_stream`): Plivo's Audio Streams dialect (`start`
  with `extra_headers`, `media`, `dtmf`, `playedStream` only for checkpoints whose audio
  played, `clearedAudio`; no `connected`, no `stop`: the socket closes), driven by the
  carrier-neutral clock, playout, caller audio and callee scripts (`simulator.far_end`).

What it refuses, as Plivo does, is listed in `rest` and `xml`. Simplifications: keys sent
by REST reach the callee as heard digits directly (no tones in the audio); a `<Stream>`
opens no status callbacks; an inbound call's end posts no hangup callback (our server set
none: the number's application is all it has).
"""
