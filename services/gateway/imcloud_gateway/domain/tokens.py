"""Short-lived bearer tokens (JWT, HS256) issued in exchange for an API key.

A token names the key it came from, so revoking the key ends its tokens too.
"""

from __future__ import annotations

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


def looks_like_token(presented: str) -> bool:
    return presented.count(".") == 2


def issue_token(
    *, key_id: str, tenant_id: str, role: Role, now: datetime, ttl_s: int, secret: str
) -> tuple[str, datetime]:
    expire_time = now + timedelta(seconds=ttl_s)
    claims = {
        "iss": ISSUER,
        "sub": key_id,
        "tid": tenant_id,
        "role": role.value,
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
            options={"require": ["exp", "iat", "sub", "iss"]},
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
        )
    except (KeyError, ValueError):
        raise Unauthenticated("invalid token") from None
