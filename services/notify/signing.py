"""Signatures, pure: Twilio's request signature, the one-click unsubscribe link's token, and the contact key that
names a phone number or address in events and logs instead of the number itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature: HMAC-SHA1 under the auth token over the full URL and each POST parameter's name and
    value, sorted by name, concatenated; base64."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def twilio_signature_valid(auth_token: str, url: str, params: Mapping[str, str], signature: str | None) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(twilio_signature(auth_token, url, params).encode(), signature.encode())


def contact_key(secret: str, channel: str, address: str) -> str:
    """HMAC-SHA256 of the channel and the address (E.164 phone, lower-case email) under notify's secret: stable
    across replicas and restarts, and not reversible by trying every phone number without the secret."""
    message = f"{channel}:{address.strip().lower()}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def unsubscribe_token(secret: str, delivery_id: str) -> str:
    """The one-click unsubscribe link's token: names the delivery (whose address notify knows), signed."""
    digest = hmac.new(secret.encode(), f"unsubscribe:{delivery_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def unsubscribe_token_valid(secret: str, delivery_id: str, token: str) -> bool:
    return hmac.compare_digest(unsubscribe_token(secret, delivery_id).encode(), token.encode())
