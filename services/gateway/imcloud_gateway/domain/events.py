"""Facts the gateway records; the events layer turns them into messages."""

from __future__ import annotations

from dataclasses import dataclass

from imcloud_gateway.domain.model import Tenant


@dataclass(frozen=True)
class TenantOnboarded:
    tenant: Tenant


@dataclass(frozen=True)
class TenantOffboarded:
    tenant: Tenant
