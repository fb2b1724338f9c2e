"""The settings of an imcloud process: the shared sections and each service's own.

Like Grafana Mimir's ``Config``: every part owns its section, the root composes
them, and ``problems_for`` checks the whole for what a target is about to run.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError

from imcloud_core.errors import ConfigurationError
from imcloud_core.settings import BusBackend, ProcessSettings
from imcloud_gateway.settings import GatewaySettings, ProvisioningSettings
from imcloud_production.settings import SchedulingSettings
from imcloud_products.settings import TelemetrySettings
from imcloud_servitization.settings import NotificationSettings

JWT_SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name, not a secret


class Settings(ProcessSettings):
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    provisioning: ProvisioningSettings = Field(default_factory=ProvisioningSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)

    def problems_for(self, services: list[str], *, distributed: bool) -> list[str]:
        """What stops these services from running in this mode, each naming its setting."""
        problems = []
        if distributed and self.bus is not BusBackend.KAFKA:
            problems.append(
                "IMCLOUD_BUS: 'imcloud serve' runs one service of a distributed deployment and "
                "needs Kafka; set IMCLOUD_BUS=kafka (or use 'imcloud up' for the embedded mode)"
            )
        # Only the gateway signs and checks tokens; the embedded mode makes its own
        # secret (for_embedded).
        if distributed and "gateway" in services:
            secret_problem = self.gateway.secret_problem()
            if secret_problem:
                problems.append(secret_problem)
        return problems

    def for_embedded(self) -> Settings:
        """These settings for `imcloud up`: without a JWT secret of their own, the
        data directory's, made at random on first start, so no two installations
        share one and nobody can forge tokens for this one."""
        if self.gateway.jwt_secret.get_secret_value():
            return self
        secret = _data_directory_secret(self.data_dir / JWT_SECRET_FILE)
        gateway = self.gateway.model_copy(update={"jwt_secret": SecretStr(secret)})
        return self.model_copy(update={"gateway": gateway})

    def local_api_url(self) -> str:
        """The REST API of the gateway these settings describe, as a local client reaches it."""
        host = self.gateway.http_host
        if host in ("", "0.0.0.0", "::"):  # noqa: S104 - listening everywhere; connect locally
            host = "127.0.0.1"
        return f"http://{host}:{self.gateway.http_port}"


def _data_directory_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    # Readable by this user only, like an SSH key.
    path.touch(mode=0o600)
    path.write_text(secret)
    return secret


def load_settings() -> Settings:
    """The process settings from the environment; a wrong value names its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"IMCLOUD_{'__'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigurationError(problems) from None
