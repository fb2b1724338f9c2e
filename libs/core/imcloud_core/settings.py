"""The one typed settings object of an imcloud process.

Every value comes from an ``IMCLOUD_``-prefixed environment variable (nested
sections use ``__``, e.g. ``IMCLOUD_KAFKA__BOOTSTRAP_SERVERS``). The defaults are
the embedded mode: SQLite files under ``IMCLOUD_DATA_DIR`` and the in-process
event bus, so a fresh checkout runs with no outside servers.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_NAMES = ("gateway", "products", "production", "servitization")

# Secrets that ship as defaults so the embedded mode starts with no setup. A
# distributed deployment that still uses one of them is refused at start.
PLACEHOLDER_SECRETS = frozenset({"embedded-insecure-jwt-secret"})


class BusBackend(StrEnum):
    MEMORY = "memory"
    KAFKA = "kafka"


class KafkaSettings(BaseModel):
    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "imcloud"
    # Managed Kafka (Confluent Cloud, Aiven, MSK): TLS and SASL.
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = ""
    sasl_username: str = ""
    sasl_password: SecretStr = SecretStr("")
    # CA bundle to verify the brokers; empty: the system's trust store.
    ssl_cafile: str = ""
    # Partitions and replication factor used when imcloud creates its topics.
    topic_partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    # How long start-up waits for the first broker answer before giving up.
    connect_timeout_s: float = Field(default=10.0, gt=0)
    # Records handed to a handler at once; larger batches amortise commits.
    max_poll_records: int = Field(default=500, ge=1)


class GrpcEndpoint(BaseModel):
    """Where a service's gRPC server listens and where its clients find it."""

    bind: str
    target: str


class GatewaySettings(BaseModel):
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    jwt_secret: SecretStr = SecretStr("embedded-insecure-jwt-secret")
    jwt_ttl_s: int = Field(default=900, ge=30, le=86_400)
    cors_origins: list[str] = Field(default_factory=list)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    # Sustained requests per second and burst, per tenant and per credential.
    tenant_rate_per_s: float = Field(default=200.0, gt=0)
    tenant_burst: int = Field(default=400, ge=1)
    credential_rate_per_s: float = Field(default=100.0, gt=0)
    credential_burst: int = Field(default=200, ge=1)
    # Requests without a credential (sign-up), per client address.
    anonymous_rate_per_s: float = Field(default=1.0, gt=0)
    anonymous_burst: int = Field(default=20, ge=1)
    # Device-link streams one gateway process serves at once (a thread each).
    max_device_streams: int = Field(default=512, ge=1)
    # Public sign-up; operators may turn it off and create tenants with the CLI.
    signup_enabled: bool = True


class TelemetrySettings(BaseModel):
    # Points in one batch; larger batches are refused whole.
    max_points_per_batch: int = Field(default=50_000, ge=1)
    # How far ahead of the gateway's clock a timestamp may be (device clock skew).
    max_future_s: int = Field(default=300, ge=0)
    # How old a point may be; devices buffer while offline, but not forever.
    max_age_s: int = Field(default=7 * 86_400, ge=60)
    # Raw points older than this are dropped; the 1-minute rollups stay longer.
    retention_days: int = Field(default=30, ge=1)
    rollup_retention_days: int = Field(default=400, ge=1)
    # A machine not heard from for this long counts as disconnected.
    offline_after_s: int = Field(default=120, ge=1)
    # Telemetry records (device batches) stored per transaction: fewer means
    # points become queryable sooner, more means less overhead per point.
    consumer_batch_records: int = Field(default=40, ge=1)
    # Consumers per products process; they split the topic's partitions and let
    # parsing in Python overlap with writing in the database.
    consumers: int = Field(default=2, ge=1)
    # How long the gateway caches a machine's signal definitions.
    model_cache_s: float = Field(default=30.0, ge=0)


class ProvisioningSettings(BaseModel):
    """Dedicated-tier tenants get a Kubernetes namespace of their own."""

    enabled: bool = False
    # Empty: in-cluster configuration (the gateway's service account).
    kubeconfig: str = ""
    namespace_prefix: str = "imcloud-tenant-"
    quota_cpu: str = "4"
    quota_memory: str = "8Gi"
    quota_pods: str = "20"
    quota_storage: str = "50Gi"
    # Defaults and ceilings for each container in a tenant namespace.
    default_cpu: str = "500m"
    default_memory: str = "512Mi"
    max_cpu: str = "2"
    max_memory: str = "4Gi"
    # How often every tenant's namespace is checked and repaired.
    reconcile_every_s: float = Field(default=60.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="IMCLOUD_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    data_dir: Path = Path(".imcloud")
    bus: BusBackend = BusBackend.MEMORY
    # One database per service: "{service}" is replaced by the service name, and
    # "{data_dir}" by data_dir. Per-service overrides win when set.
    database_url: str = "sqlite:///{data_dir}/{service}.db"
    database_urls: dict[str, str] = Field(default_factory=dict)
    database_pool_size: int = Field(default=10, ge=1)

    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    provisioning: ProvisioningSettings = Field(default_factory=ProvisioningSettings)

    # The gateway's gRPC server: the device link for equipment (and health).
    gateway_grpc: GrpcEndpoint = GrpcEndpoint(bind="127.0.0.1:50050", target="127.0.0.1:50050")
    products_grpc: GrpcEndpoint = GrpcEndpoint(bind="127.0.0.1:50051", target="127.0.0.1:50051")
    production_grpc: GrpcEndpoint = GrpcEndpoint(bind="127.0.0.1:50052", target="127.0.0.1:50052")
    servitization_grpc: GrpcEndpoint = GrpcEndpoint(
        bind="127.0.0.1:50053", target="127.0.0.1:50053"
    )
    # Deadline of every internal gRPC call.
    grpc_deadline_s: float = Field(default=5.0, gt=0)
    # Port of the Prometheus endpoint of processes that do not run the gateway
    # (the gateway serves /metrics on its HTTP port); 0 turns it off.
    metrics_port: int = Field(default=9464, ge=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"

    def database_url_for(self, service: str) -> str:
        template = self.database_urls.get(service, self.database_url)
        return template.format(service=service, data_dir=self.data_dir.as_posix())

    def grpc_endpoint(self, service: str) -> GrpcEndpoint:
        endpoint: GrpcEndpoint = getattr(self, f"{service}_grpc")
        return endpoint
