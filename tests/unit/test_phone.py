"""Phone numbers: strict E.164 normalisation and masking for logs."""

from __future__ import annotations

import pytest

from voicecall_rt.phone import mask_number, normalize_e164


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+14155551234", "+14155551234"),
        ("+1 415 555 1234", "+14155551234"),
        ("+1-415-555-1234", "+14155551234"),
        ("+1 (415) 555-1234", "+14155551234"),
        ("+1.415.555.1234", "+14155551234"),
        ("  +14155551234\n", "+14155551234"),
        ("+1\t415\t5551234", "+14155551234"),
        ("0014155551234", "+14155551234"),
        ("0044 20 7946 0000", "+442079460000"),
        ("00 33 1 23 45 67 89", "+33123456789"),
        ("+49 (0)30-1234.5678", "+4903012345678"),
        ("+12", "+12"),  # shortest: country code and one digit
        ("+123456789012345", "+123456789012345"),  # 15 digits, the maximum
    ],
)
def test_normalises_separators_and_00_prefix(raw: str, expected: str) -> None:
    assert normalize_e164(raw) == expected


def test_normalised_is_idempotent() -> None:
    once = normalize_e164("+1 (415) 555-1234")
    assert normalize_e164(once) == once


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "+",
        "+1",  # country code only
        "14155551234",  # no '+' nor 00
        "4155551234",
        "+0123456789",  # no country code starts with 0
        "+04155551234",
        "000123",  # 00 then a leading 0
        "+1415555CALL",
        "+1 415 555 12a4",
        "tel:+14155551234",
        "+1234567890123456",  # 16 digits
        "+1" + "2" * 20,
        "++14155551234",
        "+1/415/555/1234",  # not a separator we strip
        "+1_415_555_1234",
        "+1,4155551234",
        "+١٤١٥٥٥٥١٢٣٤",  # non-ASCII digits
        "+14155551234 ext 5",
    ],
)
def test_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        normalize_e164(raw)


def test_error_message_shows_input_and_example() -> None:
    with pytest.raises(ValueError) as info:
        normalize_e164("call me")
    message = str(info.value)
    assert "'call me'" in message
    assert "+14155551234" in message


@pytest.mark.parametrize("raw", [None, 14155551234, ["+14155551234"]])
def test_rejects_non_strings(raw: object) -> None:
    with pytest.raises(ValueError, match="string"):
        normalize_e164(raw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+14155551234", "+14*******34"),
        ("+442079460000", "+44********00"),
        ("+1234567", "+12***67"),
        ("+123456", "+12**56"),
        ("+12345", "******"),
        ("+12", "***"),
        ("", ""),
    ],
)
def test_mask_number(number: str, masked: str) -> None:
    assert mask_number(number) == masked
    assert len(mask_number(number)) == len(number)


def test_mask_hides_the_middle_digits() -> None:
    masked = mask_number("+14155551234")
    assert "555" not in masked
    assert masked.startswith("+14")
    assert masked.endswith("34")
