"""The settings of an imcloud process: the shared sections and each service's own.

Like Grafana Mimir's ``Config``: every part owns its section, the root composes
them, and ``problems_for`` checks the whole for what a target is about to run.
"""

from __future__ import annotations

from pydantic import Field, ValidationError

from imcloud_core.errors import ConfigurationError
from imcloud_core.settings import BusBackend, ProcessSettings
from imcloud_gateway.settings import GatewaySettings, ProvisioningSettings
from imcloud_products.settings import TelemetrySettings


class Settings(ProcessSettings):
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    provisioning: ProvisioningSettings = Field(default_factory=ProvisioningSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    def problems_for(self, services: list[str], *, distributed: bool) -> list[str]:
        """What stops these services from running in this mode, each naming its setting."""
        problems = []
        if distributed and self.bus is not BusBackend.KAFKA:
            problems.append(
                "IMCLOUD_BUS: 'imcloud serve' runs one service of a distributed deployment and "
                "needs Kafka; set IMCLOUD_BUS=kafka (or use 'imcloud up' for the embedded mode)"
            )
        # Only the gateway signs and checks tokens; the embedded mode may keep the
        # placeholder, since nothing outside this machine reaches it.
        if distributed and "gateway" in services:
            secret_problem = self.gateway.secret_problem()
            if secret_problem:
                problems.append(secret_problem)
        return problems

    def local_api_url(self) -> str:
        """The REST API of the gateway these settings describe, as a local client reaches it."""
        host = self.gateway.http_host
        if host in ("", "0.0.0.0", "::"):  # noqa: S104 - listening everywhere; connect locally
            host = "127.0.0.1"
        return f"http://{host}:{self.gateway.http_port}"


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
