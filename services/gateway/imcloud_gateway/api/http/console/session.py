"""The console's session: a cookie holding a token minted at sign-in, and its CSRF token.

The cookie is HttpOnly (scripts cannot read the token) and SameSite=Strict (other
sites' pages do not send it). A state-changing request authenticated by the cookie
must also carry the session's CSRF token in a header, which only the console's own
pages know: it is derived from the session token with the gateway's secret, so
every replica checks it without shared state.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SESSION_COOKIE = "imcloud_session"
# Before sign-in: a random value in a cookie and in the sign-in page (double submit).
SIGN_IN_COOKIE = "imcloud_sign_in"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(session_token: str, *, secret: str) -> str:
    mac = hmac.new(secret.encode(), b"console-csrf:" + session_token.encode(), hashlib.sha256)
    return mac.hexdigest()


def csrf_matches(presented: str | None, expected: str) -> bool:
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def local_path(candidate: str | None) -> str | None:
    """``candidate`` if it is a path on this site (no open redirect), else None."""
    if (
        candidate
        and candidate.startswith("/")
        and not candidate.startswith("//")
        and "\\" not in candidate
        and all(ch.isprintable() for ch in candidate)
    ):
        return candidate
    return None
