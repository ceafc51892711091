"""Mint, hash and check API keys and operator passwords."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.db.models import ApiKeyRole

KEY_PREFIX = "hub"
_ROLE_TAGS: dict[ApiKeyRole, str] = {ApiKeyRole.STOREFRONT: "sf", ApiKeyRole.OPERATOR: "op", ApiKeyRole.ADMIN: "ad"}
_password_hasher = PasswordHasher()
# Letters and digits only, so a double-click selects the whole key; 40 of them carry 238 bits.
_BASE62 = string.ascii_letters + string.digits


@dataclass(frozen=True, slots=True)
class MintedKey:
    plaintext: str
    """Shown to the caller once and never stored."""
    prefix: str
    key_hash: str


def hash_key(plaintext: str) -> str:
    # Keys carry over 230 random bits, so a fast hash is safe here; slow hashes are for passwords.
    return hashlib.sha256(plaintext.encode()).hexdigest()


def mint_key(role: ApiKeyRole, *, seed: bytes | None = None) -> MintedKey:
    """Create a key `hub_<role>_<lookup>_<secret>`; a seed makes it reproducible (demo keys)."""
    if seed is None:
        lookup, secret = secrets.token_hex(6), "".join(secrets.choice(_BASE62) for _ in range(40))
    else:
        digest = hmac.new(seed, b"hub-api-key", hashlib.sha256).hexdigest()
        lookup, secret = digest[:12], digest[12:]
    prefix = f"{KEY_PREFIX}_{_ROLE_TAGS[role]}_{lookup}"
    plaintext = f"{prefix}_{secret}"
    return MintedKey(plaintext=plaintext, prefix=prefix, key_hash=hash_key(plaintext))


def key_prefix(plaintext: str) -> str | None:
    """Return the lookup prefix of a well-formed key, or None."""
    parts = plaintext.split("_", 3)
    if len(parts) != 4 or parts[0] != KEY_PREFIX or parts[1] not in _ROLE_TAGS.values() or not parts[3]:
        return None
    return "_".join(parts[:3])


def key_matches(plaintext: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_key(plaintext), key_hash)


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def derive_secret(master: str, label: str, length: int = 24) -> str:
    """Derive a stable secret from the instance secret, so re-seeding reproduces the same values."""
    return hmac.new(master.encode(), label.encode(), hashlib.sha256).hexdigest()[:length]
