"""Standard Webhooks signatures: `webhook-id`, `webhook-timestamp`, `webhook-signature`.

The signed content is `"{webhook-id}.{webhook-timestamp}.{body}"`; the signature is
`v1,` followed by the base64 HMAC-SHA256 of it, keyed with the secret's bytes.

Secrets follow the spec's convention: `whsec_` followed by the base64 of 24 to 64
random bytes, and the key is the decoded bytes. A secret without the prefix (only
accepted from settings, e.g. `MUSTER_SRE_NOTIFY_SECRET=hunter2hunter2…`) is a *raw*
secret: its UTF-8 bytes are the key. A receiver using a Standard Webhooks library
then passes those bytes, or `whsec_` + base64 of them, as its secret.
"""

import base64
import binascii
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
GENERATED_SECRET_BYTES = 32


def generate_secret() -> str:
    """A new `whsec_` secret of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_SECRET_BYTES)).decode()


def decode_whsec(secret: str) -> bytes:
    """The key of a `whsec_<base64>` secret; ValueError unless it holds 24 to 64 bytes."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a signing secret must start with `{SECRET_PREFIX}`")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"the part after `{SECRET_PREFIX}` must be base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"the secret must decode to {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, "
            f"not {len(key)}"
        )
    return key


def decode_secret(secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret, or the UTF-8 bytes of a raw one."""
    if secret.startswith(SECRET_PREFIX):
        return decode_whsec(secret)
    if not secret:
        raise ValueError("the signing secret is empty")
    return secret.encode()


def sign(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value for one message."""
    content = b"%s.%d.%s" % (message_id.encode(), timestamp, body)
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(key: bytes | None, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers; without a key the message goes unsigned."""
    result = {"webhook-id": message_id, "webhook-timestamp": str(timestamp)}
    if key is not None:
        result["webhook-signature"] = sign(key, message_id, timestamp, body)
    return result
