"""Ready-made simulated calls: the demo's, and the building blocks tests reuse."""

from __future__ import annotations

from voicecall_rt.simulator.openai.turn_timing import semantic_end_of_turn_ms
from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    ModelScript,
    Pause,
    Say,
    Scenario,
    Speak,
    WaitForDigits,
    WaitForModel,
    callee_lines,
)

DEMO_NUMBER = "+14155550123"
MARIA_GREETS = "Reservations, this is Maria. How can I help you?"


def _ms(value: int, scale: float) -> int:
    return max(120, round(value * scale))


def pizza_booking(scale: float = 1.0) -> Scenario:
    """Book a table at a pizzeria: a phone menu first (the model presses 1), then Maria,
    who cuts the model off mid-sentence once; the model confirms, reports the outcome and
    hangs up.

    `scale` shortens every utterance (tests use ~0.3) without changing the conversation.
    """

    def ms(value: int) -> int:
        return _ms(value, scale)

    interrupted_reply = (
        "Hi Maria! I'm an AI assistant calling on behalf of Alex Chen. We'd love to book a "
        "table this Friday evening, ideally somewhere a little quiet, because it's a small "
        "birthday dinner and we were hoping to"
    )
    callee = (
        Speak(
            "Thanks for calling Tony's Pizza. For reservations, press 1. For takeout, press 2.",
            ms(2600),
        ),
        WaitForDigits(1),
        Pause(ms(600)),
        Speak(MARIA_GREETS, ms(1600)),
        # Maria talks over the model about two seconds into its reply: once semantic VAD
        # (the default eagerness) has ended her turn, then the reply's first words.
        Pause(semantic_end_of_turn_ms("medium", MARIA_GREETS) + 60 + ms(2000)),
        Speak("Sorry, go ahead: for how many people, and what time?", ms(1600)),
        WaitForModel(quiet_ms=ms(700)),
        Speak("Yes, we have a table at seven. What name should I put it under?", ms(2000)),
        WaitForModel(quiet_ms=ms(700)),
        Speak("Perfect, you're all set. Your confirmation number is 4 4 7 2.", ms(2000)),
        WaitForModel(quiet_ms=ms(700)),
    )
    plan = CallPlan(answer="answer", ring_ms=ms(800), answered_by="human", callee=callee)
    outcome = {
        "success": True,
        "summary": "Booked a table for 4 at Tony's Pizza on Friday at 7 pm under Alex Chen.",
        "details": {"confirmation": "4472", "party_size": 4, "when": "Friday 19:00"},
    }
    turns: tuple[tuple[Say | CallTool, ...], ...] = (
        (CallTool("send_dtmf", {"digits": "1"}),),  # the menu: press 1 for reservations
        (),  # keys pressed; the model waits for a person
        (Say(interrupted_reply, ms(6000)),),
        (Say("Four people, at 7 pm this Friday.", ms(1800)),),
        (Say("Under Alex Chen, please.", ms(1200)),),
        (
            Say("Wonderful: confirmation 4 4 7 2. Thank you so much, Maria!", ms(2400)),
            CallTool("report_outcome", outcome),
        ),
        (
            Say("Have a lovely evening. Goodbye!", ms(1400)),
            CallTool("end_call", {"reason": "booking confirmed"}),
        ),
    )
    return Scenario(
        name="pizza-booking",
        description="Book a table for 4 at Tony's Pizza on Friday at 7 pm",
        to_number=DEMO_NUMBER,
        task="Book a table for 4 people this Friday at 7pm under the name Alex Chen.",
        carrier=plan,
        model=ModelScript(turns=turns, caller_transcripts=callee_lines(plan)),
    )
