"""How the fake carrier signs what it sends: Twilio's two webhook signature schemes.

By default Twilio signs with the account's Auth Token and HMAC-SHA1. When a Webhook Rule
matches the URL, it signs with that Webhook Setting's SharedKey secret and algorithm instead
and says so in `X-Twilio-Webhooks-Signature-Settings: key=<sharedKeyId>,algorithm=<alg>`;
the string signed (URL, then the sorted POST parameters) is the same either way
(twilio/request_validator.py; twilio.com/docs/usage/webhooks/webhook-shared-keys).
Signatures come from the twilio package's own `compute_signature`, never our own HMAC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from twilio.request_validator import (
    HMAC_SHA256,
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
)

# What a broken signer uses instead of the right secret (failure injection).
_WRONG: Final = "-wrong"


@dataclass(frozen=True)
class SharedKey:
    """A Webhook Setting's signing key: its id (named in the header) and secret."""

    secret: str
    key_id: str = "webhooks_sharedkey_sim0001"
    algorithm: str = HMAC_SHA256

    def __repr__(self) -> str:  # the secret stays out of test output and logs
        return f"SharedKey(key_id={self.key_id!r}, algorithm={self.algorithm!r})"


def signature_headers(
    url: str,
    params: dict[str, str],
    *,
    auth_token: str,
    shared_key: SharedKey | None = None,
    forge: bool = False,
) -> dict[str, str]:
    """The signature headers Twilio would send with a request to `url` carrying `params`.

    `shared_key=None` is the Auth Token scheme (no settings header); `forge` signs with a
    wrong secret under the same scheme, as an impostor would."""
    if shared_key is None:
        secret = auth_token + _WRONG if forge else auth_token
        signature = RequestValidator(secret).compute_signature(url, params)
        return {SIGNATURE_HEADER: str(signature)}
    secret = shared_key.secret + _WRONG if forge else shared_key.secret
    signature = RequestValidator(secret).compute_signature(
        url, params, algorithm=shared_key.algorithm
    )
    return {
        SIGNATURE_HEADER: str(signature),
        SIGNATURE_SETTINGS_HEADER: f"key={shared_key.key_id},algorithm={shared_key.algorithm}",
    }
