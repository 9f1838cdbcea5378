"""Ready-made simulated calls: the demo's, and the building blocks tests reuse."""

from __future__ import annotations

from voicecall_rt.simulator.scenario import (
    CallPlan,
    CallTool,
    ModelScript,
    Say,
    Scenario,
    Speak,
    WaitForModel,
    callee_lines,
)

DEMO_NUMBER = "+14155550123"


def _ms(value: int, scale: float) -> int:
    return max(120, round(value * scale))


def pizza_booking(scale: float = 1.0) -> Scenario:
    """Book a table at a pizzeria; the model confirms, reports the outcome and hangs up.

    `scale` shortens every utterance (tests use ~0.3) without changing the conversation.
    """
    callee = (
        Speak("Tony's Pizza, this is Maria speaking. How can I help you?", _ms(1800, scale)),
        WaitForModel(quiet_ms=_ms(700, scale)),
        Speak(
            "Let me check. Yes, we have a table at seven. What name should I put it under?",
            _ms(2200, scale),
        ),
        WaitForModel(quiet_ms=_ms(700, scale)),
        Speak("Perfect, you're all set. Your confirmation number is 4 4 7 2.", _ms(2000, scale)),
        WaitForModel(quiet_ms=_ms(700, scale)),
    )
    plan = CallPlan(answer="answer", ring_ms=_ms(800, scale), answered_by="human", callee=callee)
    outcome = {
        "success": True,
        "summary": "Booked a table for 4 at Tony's Pizza on Friday at 7 pm under Alex Chen.",
        "details": {"confirmation": "4472", "party_size": 4, "when": "Friday 19:00"},
    }
    turns = (
        (
            Say(
                "Hi Maria! I'm an AI assistant calling for Alex Chen. I'd like to book a table "
                "for four this Friday at 7 pm, please.",
                _ms(3000, scale),
            ),
        ),
        (Say("Under Alex Chen, please.", _ms(1200, scale)),),
        (
            Say("Wonderful: confirmation 4 4 7 2. Thank you so much, Maria!", _ms(2400, scale)),
            CallTool("report_outcome", outcome),
        ),
        (
            Say("Have a lovely evening. Goodbye!", _ms(1400, scale)),
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
