"""A fake Telnyx (Call Control v2) for the offline demo and the integration tests
(docs/protocols.md §6).

`FakeTelnyx` (`carrier`; what it keeps of a call and how its events word it: `leg`) plays
three parts, each over real loopback sockets:

* the REST API (`rest`): `POST /v2/calls` and the call actions (`answer`, `reject`,
  `hangup`, `send_dtmf`, `speak`, `transfer`), the balance and the numbers list, with
  Bearer auth and Telnyx's error JSON, so the official `telnyx` SDK can point its base URL
  at it; a transfer's new leg is played from `FakeTelnyx.transfer_plans` (`transfer_leg`:
  its events, and the original call left up when it never answers);
* the webhooks (`webhooks`): JSON events (`call.initiated`, `call.answered`,
  `call.machine.*`, `call.hangup`, …) posted in order to the dial's `webhook_url` (or, for
  an inbound call, the application's URL), signed with a test Ed25519 key as Telnyx signs;
* the media stream (`media_stream`): Telnyx's WebSocket client (`connected`, `start` with
  the dial's `client_state`, `media` every 20 ms, `mark`, `dtmf`, `stop`), driven by the
  carrier-neutral far end (`simulator.far_end`: clock, playout, caller audio, callee
  script, line faults). Every message, both ways, is `carrier.telnyx.wire`'s.

As strict as Telnyx where our server could get away with something:

* the dial must name the application (`connection_id`), `to` and one of our numbers as
  `from`; ring timeout 5-600 s, time limit at most 14,400 s; `client_state` must be
  base64 (422 otherwise); an action on a call that has ended answers 422 with code 90018;
* without `stream_bidirectional_mode=rtp` (or sending in a codec other than PCMU) our audio
  is dropped without a word, as on the real service;
* without `stream_codec`, the stream carries the PSTN leg's codec (PCMA by default, as in
  much of Europe), so a server that does not ask for PCMU gets a `start` it must refuse;
* what our server sends on the stream is read as Telnyx uses it: a `media` must carry
  20 ms to 30 s of base64 audio, a `mark` a name; anything else is answered with an
  `error` message and recorded in `SimCall.protocol_errors`;
* `send_dtmf` plays the tones to the far party (`SimCall.heard_digits` hears them).

Deliberate simplifications: the stream opens when the call is answered; the standard
answering-machine detection is played from the `CallPlan` (`human`, `machine…` → `machine`
and, for `machine_end…` with `greeting_end`, `call.machine.greeting.ended`); premium
detection is not played; webhooks are not retried.
"""
