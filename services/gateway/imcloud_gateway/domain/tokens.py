"""Short-lived bearer tokens (JWT, HS256) issued in exchange for an API key.

A token names the key it came from and the key's secret generation, so revoking
or rotating the key ends its tokens too: a leaked token cannot outlive the secret
that minted it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from imcloud_core.errors import Unauthenticated
from imcloud_core.ids import new_id
from imcloud_gateway.domain.model import Role

ISSUER = "imcloud"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class TokenClaims:
    key_id: str
    tenant_id: str
    role: Role
    expire_time: datetime
    secret_generation: str


def looks_like_token(presented: str) -> bool:
    return presented.count(".") == 2


def secret_generation(secret_hash: str) -> str:
    """Names the key's current secret without revealing its hash (tokens are readable)."""
    return hashlib.sha256(f"generation:{secret_hash}".encode()).hexdigest()[:32]


def issue_token(
    *,
    key_id: str,
    tenant_id: str,
    role: Role,
    secret_generation: str,
    now: datetime,
    ttl_s: int,
    secret: str,
) -> tuple[str, datetime]:
    expire_time = now + timedelta(seconds=ttl_s)
    claims = {
        "iss": ISSUER,
        "sub": key_id,
        "tid": tenant_id,
        "role": role.value,
        "gen": secret_generation,
        "iat": int(now.timestamp()),
        "exp": int(expire_time.timestamp()),
        "jti": new_id(),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM), expire_time


def verify_token(token: str, *, secret: str) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss", "gen"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("the token has expired; request a new one") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("invalid token") from None
    try:
        return TokenClaims(
            key_id=str(claims["sub"]),
            tenant_id=str(claims["tid"]),
            role=Role(claims["role"]),
            expire_time=datetime.fromtimestamp(claims["exp"]).astimezone(),
            secret_generation=str(claims["gen"]),
        )
    except (KeyError, ValueError):
        raise Unauthenticated("invalid token") from None
