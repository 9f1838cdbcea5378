"""Both of Twilio's webhook signature schemes, as `signature_valid` reads them.

Signatures here come from the twilio package's own `compute_signature` (through the fake
carrier's signer), so the check is against Twilio's algorithm, not against ours.
"""

from __future__ import annotations

from twilio.request_validator import (
    HMAC_SHA1,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
)

from voicecall_rt.carrier.twilio.build import shared_key_secrets
from voicecall_rt.carrier.twilio.webhooks import signature_key_id, signature_valid
from voicecall_rt.config import Settings
from voicecall_rt.simulator.signing import SharedKey, signature_headers

TOKEN = "auth-token-0123456789"
URL = "https://voice.example.com/voice/status?call=call_0123456789abcdef"
PARAMS = {"CallSid": "CA" + "1" * 32, "CallStatus": "completed", "AccountSid": "AC" + "2" * 32}
KEY = SharedKey("shared-secret-abcdef", key_id="webhooks_sharedkey_0001")
NEXT_KEY = SharedKey("shared-secret-rotated", key_id="webhooks_sharedkey_0002")


def _check(headers: dict[str, str], secrets: tuple[str, ...] = (), token: str = TOKEN) -> bool:
    return signature_valid(
        token,
        URL,
        PARAMS,
        headers.get(SIGNATURE_HEADER),
        signature_settings=headers.get(SIGNATURE_SETTINGS_HEADER),
        shared_key_secrets=secrets,
    )


def test_auth_token_scheme_unchanged() -> None:
    headers = signature_headers(URL, PARAMS, auth_token=TOKEN)
    assert SIGNATURE_SETTINGS_HEADER not in headers
    assert _check(headers)
    assert _check(headers, secrets=(KEY.secret,))  # SharedKeys configured: still accepted
    assert not _check(headers, token="other-token")
    assert not _check(headers, token="")
    assert not _check(signature_headers(URL, PARAMS, auth_token=TOKEN, forge=True))


def test_shared_key_scheme_uses_the_key_and_the_announced_algorithm() -> None:
    headers = signature_headers(URL, PARAMS, auth_token=TOKEN, shared_key=KEY)
    assert headers[SIGNATURE_SETTINGS_HEADER] == f"key={KEY.key_id},algorithm=HMAC_SHA256"
    assert _check(headers, secrets=(KEY.secret,))
    assert not _check(headers)  # no SharedKey configured: the Auth Token is not tried
    assert not _check(headers, secrets=("",))
    assert not _check(headers, secrets=(NEXT_KEY.secret,))
    forged = signature_headers(URL, PARAMS, auth_token=TOKEN, shared_key=KEY, forge=True)
    assert not _check(forged, secrets=(KEY.secret,))
    # The same signature without its header is read as the Auth Token scheme, and fails.
    assert not _check({SIGNATURE_HEADER: headers[SIGNATURE_HEADER]}, secrets=(KEY.secret,))
    # Another algorithm named than the one signed with fails; an unknown one fails too.
    for algorithm in ("HMAC_SHA1", "HMAC_MD5", ""):
        settings = f"key={KEY.key_id},algorithm={algorithm}"
        assert not _check({**headers, SIGNATURE_SETTINGS_HEADER: settings}, (KEY.secret,))


def test_shared_key_with_sha1_and_rotation() -> None:
    sha1_key = SharedKey(KEY.secret, key_id=KEY.key_id, algorithm=HMAC_SHA1)
    headers = signature_headers(URL, PARAMS, auth_token=TOKEN, shared_key=sha1_key)
    assert _check(headers, secrets=(KEY.secret,))
    # Rotating: old and new secrets both configured, either key's webhooks pass.
    both = (KEY.secret, NEXT_KEY.secret)
    for key in (KEY, NEXT_KEY):
        assert _check(signature_headers(URL, PARAMS, auth_token=TOKEN, shared_key=key), both)


def test_port_variants_as_the_package_allows() -> None:
    signature = RequestValidator(KEY.secret).compute_signature(
        URL.replace(".com/", ".com:443/"), PARAMS, algorithm="HMAC_SHA256"
    )
    headers = {SIGNATURE_HEADER: signature, SIGNATURE_SETTINGS_HEADER: f"key={KEY.key_id}"}
    # No algorithm in the header means HMAC_SHA1 (twilio's get_signature_algorithm).
    assert not _check(headers, secrets=(KEY.secret,))
    headers[SIGNATURE_SETTINGS_HEADER] += ",algorithm=HMAC_SHA256"
    assert _check(headers, secrets=(KEY.secret,))


def test_key_id_from_the_settings_header() -> None:
    assert signature_key_id("key=webhooks_sharedkey_1,algorithm=HMAC_SHA256") == (
        "webhooks_sharedkey_1"
    )
    assert signature_key_id(" algorithm=HMAC_SHA256 , key = k2 ") == "k2"
    assert signature_key_id("algorithm=HMAC_SHA256") is None
    assert signature_key_id(None) is None


def test_shared_key_secrets_from_settings() -> None:
    assert shared_key_secrets(Settings()) == []  # none unless configured
    settings = Settings.model_validate({"twilio": {"webhookSharedKeys": ["a", "b"]}})
    assert shared_key_secrets(settings) == ["a", "b"]
    # Secrets: never shown by the settings themselves.
    assert "'a'" not in repr(settings.twilio) and "'b'" not in repr(settings.twilio)
