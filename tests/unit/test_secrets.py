"""API keys are shown once and stored hashed; passwords use argon2."""

from __future__ import annotations

from hub.db.models import ApiKeyRole
from hub.tenancy import secrets as sec


def test_minted_key_is_never_stored_in_plaintext() -> None:
    minted = sec.mint_key(ApiKeyRole.STOREFRONT)
    assert minted.plaintext.startswith(minted.prefix + "_")
    assert minted.plaintext not in minted.key_hash and minted.prefix.startswith("hub_sf_")
    assert sec.key_matches(minted.plaintext, minted.key_hash)
    assert not sec.key_matches(minted.plaintext + "x", minted.key_hash)


def test_two_keys_never_collide_but_a_seeded_key_is_reproducible() -> None:
    assert sec.mint_key(ApiKeyRole.OPERATOR).plaintext != sec.mint_key(ApiKeyRole.OPERATOR).plaintext
    assert sec.mint_key(ApiKeyRole.ADMIN, seed=b"s").plaintext == sec.mint_key(ApiKeyRole.ADMIN, seed=b"s").plaintext
    assert sec.mint_key(ApiKeyRole.ADMIN, seed=b"s").plaintext != sec.mint_key(ApiKeyRole.ADMIN, seed=b"t").plaintext


def test_malformed_keys_have_no_prefix() -> None:
    for bad in ["", "hub", "hub_sf_abc", "hub_xx_abc_def", "sk-openai-style", "hub_sf_abc_"]:
        assert sec.key_prefix(bad) is None, bad
    assert sec.key_prefix("hub_op_0123456789ab_secret") == "hub_op_0123456789ab"


def test_password_hash_is_argon2_and_verifies_only_the_right_password() -> None:
    hashed = sec.hash_password("correct horse battery")
    assert hashed.startswith("$argon2")
    assert sec.verify_password(hashed, "correct horse battery")
    assert not sec.verify_password(hashed, "wrong horse battery")
    assert not sec.verify_password("not-a-hash", "anything")
