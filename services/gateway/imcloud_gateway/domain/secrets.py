"""Credential secrets: generated once, shown once, stored only as a hash.

Secrets are 256 random bits, so a fast hash (SHA-256) is as safe as a slow
password hash and keeps authentication cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from imcloud_core.errors import Unauthenticated


@dataclass(frozen=True)
class IssuedSecret:
    credential_id: str
    # The full credential the holder presents: "<prefix>_<id>_<secret>".
    plaintext: str
    secret_hash: str


def issue(prefix: str, credential_id: str) -> IssuedSecret:
    secret = secrets.token_urlsafe(32)
    return IssuedSecret(
        credential_id=credential_id,
        plaintext=f"{prefix}_{credential_id}_{secret}",
        secret_hash=hash_secret(secret),
    )


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split(prefix: str, presented: str) -> tuple[str, str]:
    """(credential id, secret) of a presented credential, or Unauthenticated."""
    head, _, rest = presented.partition("_")
    # Ids are UUIDs (no "_"); the secret may contain "_".
    credential_id, _, secret = rest.partition("_")
    if head != prefix or not credential_id or not secret:
        raise Unauthenticated("malformed credential")
    return credential_id, secret


def matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)
