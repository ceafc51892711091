"""Encrypt the secrets a shop's channels are stored with (access tokens, app secrets) under HUB_SECRET_KEY.

A stored secret reads `enc:v1:<Fernet token>`; the Fernet key is derived from `HUB_SECRET_KEY` with HKDF, so the
setting itself never encrypts anything directly and another use of it derives another key. A value without the
prefix was written by an older HUB in plaintext: it is read as it is and encrypted the next time it is written.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "enc:v1:"
SECRET_FIELDS = ("access_token", "app_secret", "webhook_secret")
"""The keys of a channel account's `config` that hold secrets, stored encrypted."""
_HKDF_INFO = b"hub:channel-secrets:v1"
MASK = "••••"


class SecretError(ValueError):
    """A stored secret that this HUB_SECRET_KEY cannot decrypt (another key wrote it, or it was altered)."""


class SecretBox:
    """Encrypt and decrypt stored secrets with the key derived from one HUB_SECRET_KEY."""

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret_key.encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, plaintext: str) -> str:
        """Return `plaintext` encrypted, as it is stored; a value already encrypted is returned unchanged."""
        if plaintext.startswith(PREFIX):
            return plaintext
        return PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, stored: str) -> str:
        """Return the plaintext of a stored value; plaintext written by an older HUB is returned as it is."""
        if not stored.startswith(PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored.removeprefix(PREFIX).encode()).decode()
        except InvalidToken:
            raise SecretError(
                "a stored secret cannot be decrypted: it was written under another HUB_SECRET_KEY"
            ) from None

    def seal_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """Return a copy of a channel account's config with every secret field encrypted."""
        return {
            key: self.seal(value) if key in SECRET_FIELDS and isinstance(value, str) and value else value
            for key, value in config.items()
        }


def is_sealed(value: object) -> bool:
    """Whether a stored value is encrypted (rather than plaintext written by an older HUB)."""
    return isinstance(value, str) and value.startswith(PREFIX)


def masked(plaintext: str) -> str:
    """Show a secret as `••••` and, when it is long enough to keep the rest hidden, its last four characters."""
    return MASK + plaintext[-4:] if len(plaintext) >= 12 else MASK
