"""The servitization service's own settings: how notifications are delivered.

A section of the process settings (``IMCLOUD_NOTIFICATIONS__*``); the platform
composes it with the others.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr


class NotificationSettings(BaseModel):
    # A webhook receiver (or the SMTP server) not answering within this long is
    # an attempt failed ("timed out after 5 s").
    send_timeout_s: float = Field(default=5.0, gt=0)
    # Attempts before a delivery is dead-lettered.
    max_attempts: int = Field(default=8, ge=1)
    # The wait after the first failed attempt; it doubles after each failure ...
    backoff_base_s: float = Field(default=1.0, gt=0)
    # ... up to this long.
    backoff_max_s: float = Field(default=300.0, gt=0)
    # Webhooks to loopback, private or link-local addresses (the platform's own
    # network, a cloud's metadata service) are refused unless this is on: for a
    # developer's receiver on the same machine, or an installation inside one network.
    allow_private_urls: bool = False
    # Deliveries sent at once: one slow receiver holds up one worker only.
    workers: int = Field(default=8, ge=1)
    # SMTP server for e-mail channels; an empty host leaves e-mail undelivered
    # (each attempt fails with "no SMTP server configured").
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "imcloud@localhost"
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
