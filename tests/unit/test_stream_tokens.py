"""Stream tokens are single use, expire, and admit only their own call (call/tokens.py),
on a clock the test controls."""

from __future__ import annotations

from voicecall_rt.call.tokens import TOKEN_TTL_S, StreamTokens


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_token_admits_its_call_once() -> None:
    tokens = StreamTokens(_Clock())
    token = tokens.mint("call_a")
    assert token.startswith("call_a.")
    assert tokens.claim(token) == "call_a"
    assert tokens.claim(token) is None  # spent


def test_a_token_expires_and_is_spent_by_a_late_try() -> None:
    clock = _Clock()
    tokens = StreamTokens(clock)
    token = tokens.mint("call_a")
    clock.now += TOKEN_TTL_S + 0.001
    assert tokens.claim(token) is None
    clock.now -= TOKEN_TTL_S  # even back in time, a spent token admits nothing
    assert tokens.claim(token) is None


def test_wrong_secrets_and_other_calls_admit_nothing_and_spend_nothing() -> None:
    tokens = StreamTokens(_Clock())
    token = tokens.mint("call_a")
    other = tokens.mint("call_b")
    secret = token.partition(".")[2]
    for forged in ("", "call_a", "call_a.", "call_a.x" + secret, f"call_b.{secret}", "ünïcode.é"):
        assert tokens.claim(forged) is None
    assert tokens.claim(token) == "call_a"
    assert tokens.claim(other) == "call_b"


def test_a_new_token_replaces_the_old_and_forget_drops_it() -> None:
    tokens = StreamTokens(_Clock())
    first = tokens.mint("call_a")
    second = tokens.mint("call_a")
    assert tokens.claim(first) is None  # replaced
    assert tokens.claim(second) == "call_a"  # the refused old one spent nothing
    third = tokens.mint("call_b")
    tokens.forget("call_b")  # the call was settled
    assert tokens.claim(third) is None


def test_an_unspent_token_is_issued_again_as_it_was_until_spent_or_expired() -> None:
    clock = _Clock()
    tokens = StreamTokens(clock)
    token = tokens.mint("call_a")
    assert tokens.reissue("call_a") == token
    assert tokens.reissue("call_b") is None  # never issued
    assert tokens.claim(token) == "call_a"
    assert tokens.reissue("call_a") is None  # spent: a second stream gets nothing
    late = tokens.mint("call_c")
    clock.now += TOKEN_TTL_S + 0.001
    assert tokens.reissue("call_c") is None and tokens.claim(late) is None
