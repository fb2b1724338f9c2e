from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from imcloud_core.errors import Unauthenticated
from imcloud_gateway.domain import secrets, tokens
from imcloud_gateway.domain.model import Role

SECRET = "test-signing-secret-0123456789abcdef"


def test_an_issued_secret_matches_only_itself() -> None:
    issued = secrets.issue("imk", "3f0c2a8e-0000-4000-8000-000000000001")
    credential_id, secret = secrets.split("imk", issued.plaintext)
    assert credential_id == issued.credential_id
    assert secrets.matches(secret, issued.secret_hash)
    assert not secrets.matches(secret + "x", issued.secret_hash)
    assert secret not in issued.secret_hash


@pytest.mark.parametrize("presented", ["", "imk", "imk_", "imd_abc_def", "imk__secret", "nope"])
def test_malformed_credentials_are_refused(presented: str) -> None:
    with pytest.raises(Unauthenticated):
        secrets.split("imk", presented)


def test_a_token_carries_its_key_and_expires() -> None:
    now = datetime.now(UTC)
    token, expire_time = tokens.issue_token(
        key_id="k1",
        tenant_id="t1",
        role=Role.ADMIN,
        secret_generation="g1",
        now=now,
        ttl_s=60,
        secret=SECRET,
    )
    assert expire_time == now + timedelta(seconds=60)
    claims = tokens.verify_token(token, secret=SECRET)
    assert (claims.key_id, claims.tenant_id, claims.role) == ("k1", "t1", Role.ADMIN)
    assert claims.secret_generation == "g1"

    expired, _ = tokens.issue_token(
        key_id="k1",
        tenant_id="t1",
        role=Role.ADMIN,
        secret_generation="g1",
        now=now - timedelta(hours=1),
        ttl_s=60,
        secret=SECRET,
    )
    with pytest.raises(Unauthenticated, match="expired"):
        tokens.verify_token(expired, secret=SECRET)


def test_a_secret_generation_names_the_secret_without_revealing_it() -> None:
    first, second = secrets.issue("imk", "k1"), secrets.issue("imk", "k1")
    generation = tokens.secret_generation(first.secret_hash)
    assert generation == tokens.secret_generation(first.secret_hash)
    assert generation != tokens.secret_generation(second.secret_hash)
    assert generation not in first.secret_hash


def test_tokens_signed_otherwise_are_refused() -> None:
    now = datetime.now(UTC)
    forged, _ = tokens.issue_token(
        key_id="k1",
        tenant_id="t1",
        role=Role.OWNER,
        secret_generation="g1",
        now=now,
        ttl_s=60,
        secret=SECRET[::-1],
    )
    with pytest.raises(Unauthenticated):
        tokens.verify_token(forged, secret=SECRET)
    unsigned = jwt.encode(
        {"sub": "k1", "tid": "t1", "role": "owner", "iss": "imcloud", "iat": 0, "exp": 2**31},
        key=None,
        algorithm="none",
    )
    with pytest.raises(Unauthenticated):
        tokens.verify_token(unsigned, secret=SECRET)
