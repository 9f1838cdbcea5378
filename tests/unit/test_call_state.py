"""A call's state moves only as its rules allow (call/state.py), tested without sockets."""

from __future__ import annotations

import pytest

from voicecall_rt.call.state import (
    Caller,
    CallState,
    IllegalTransition,
    Model,
    Response,
    Voicemail,
)


def _voicemail(state: CallState) -> Voicemail:
    """`state.voicemail`, read through a call: mypy would keep the attribute narrowed by one
    assert across the calls that move it, and call the next assert impossible."""
    return state.voicemail


def test_a_new_outbound_call_listens_first_and_waits_for_its_session() -> None:
    state = CallState(greeting_owed=False)
    assert state.model is Model.OPENING and not state.model_ready
    assert state.caller is Caller.SILENT and not state.caller_spoke
    assert not state.responding and not state.closing and not state.ended
    assert CallState(greeting_owed=True).greeting_owed


def test_a_session_is_lost_and_renewed_under_the_call() -> None:
    state = CallState(greeting_owed=False)
    state.model_to(Model.READY)
    state.response_started("resp_1")
    state.session_gone()  # what the lost session was doing will never finish
    assert state.model is Model.LOST and not state.model_ready
    assert state.response is Response.IDLE and state.response_id is None
    state.model_to(Model.READY)
    state.model_to(Model.READY)  # replaced ahead of its end: ready to ready
    assert state.model_ready


def test_the_model_cannot_be_ready_before_it_was_opened_after_a_loss_only() -> None:
    state = CallState(greeting_owed=False)
    with pytest.raises(IllegalTransition):
        state.model_to(Model.LOST)  # nothing to lose yet


def test_nothing_moves_once_the_call_has_ended() -> None:
    state = CallState(greeting_owed=False)
    state.model_to(Model.READY)
    assert state.end() and not state.end()  # once
    assert state.ended and state.closing and state.model is Model.ENDED
    state.model_to(Model.LOST)  # a late socket callback
    state.session_gone()
    assert state.model is Model.ENDED and not state.model_ready


def test_the_caller_speaks_and_stops() -> None:
    state = CallState(greeting_owed=False)
    state.caller_stopped()  # a stop without a start changes nothing
    assert state.caller is Caller.SILENT
    state.caller_started()
    assert state.caller_speaking and state.caller_spoke
    state.caller_stopped()
    assert not state.caller_speaking and state.caller_spoke


def test_a_machine_counts_as_having_spoken() -> None:
    state = CallState(greeting_owed=False)
    state.machine_answered()
    assert state.caller_spoke and not state.caller_speaking
    speaking = CallState(greeting_owed=False)
    speaking.caller_started()
    speaking.machine_answered()
    assert speaking.caller_speaking


def test_voicemail_goes_pending_requested_speaking_in_that_order() -> None:
    state = CallState(greeting_owed=False)
    with pytest.raises(IllegalTransition):
        state.voicemail_to(Voicemail.REQUESTED)
    state.voicemail_to(Voicemail.PENDING)
    assert state.leaving_voicemail
    state.response_started("resp_0")  # a response before the message was asked for
    assert _voicemail(state) is Voicemail.PENDING
    state.response_finished()
    state.voicemail_to(Voicemail.REQUESTED)
    state.response_started("resp_1")  # the message's own response
    assert state.voicemail is Voicemail.SPEAKING and state.response_id == "resp_1"
    with pytest.raises(IllegalTransition):
        state.voicemail_to(Voicemail.PENDING)  # one voicemail a call


def test_the_goodbye_starts_once() -> None:
    state = CallState(greeting_owed=False)
    assert state.close()
    assert not state.close()
    assert state.closing and not state.ended


@pytest.mark.parametrize(
    ("closing", "tones", "voicemail", "may_cut"),
    [
        (False, False, False, True),
        (True, False, False, False),  # a goodbye is never cut
        (False, True, False, False),  # nor keypad tones being sent
        (False, False, True, False),  # nor a voicemail being left
    ],
)
def test_barge_in_cuts_the_model_but_not_a_goodbye_tones_or_voicemail(
    closing: bool, tones: bool, voicemail: bool, may_cut: bool
) -> None:
    state = CallState(greeting_owed=False)
    if closing:
        state.close()
    if voicemail:
        state.voicemail_to(Voicemail.PENDING)
    assert state.may_cut_playback(tones_playing=tones) is may_cut


def test_a_quiet_moment_is_nobody_speaking_and_nothing_under_way() -> None:
    state = CallState(greeting_owed=False)
    assert state.quiet(audio_queued=False, work_pending=False)
    assert not state.quiet(audio_queued=True, work_pending=False)
    assert not state.quiet(audio_queued=False, work_pending=True)
    state.response_started(None)
    assert not state.quiet(audio_queued=False, work_pending=False)
    state.response_finished()
    state.caller_started()
    assert not state.quiet(audio_queued=False, work_pending=False)
