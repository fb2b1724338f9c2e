"""What every imcloud process shares in its settings: storage, bus, gRPC, logs.

Every value comes from an ``IMCLOUD_``-prefixed environment variable (nested
sections use ``__``, e.g. ``IMCLOUD_KAFKA__BOOTSTRAP_SERVERS``). The defaults are
the embedded mode: SQLite files under ``IMCLOUD_DATA_DIR`` and the in-process
event bus, so a fresh checkout runs with no outside servers. Each service owns a
section of its own (its ``settings.py``); the process settings of the platform
compose them with these.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # Prefixes every topic and consumer group ("<namespace>.imcloud.telemetry.v1"),
    # so several installations (staging and production, or test runs) can share
    # one Kafka cluster without reading each other's records.
    namespace: str = Field(default="", pattern=r"^([A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*)?$")


class GrpcEndpoint(BaseModel):
    """Where a service's gRPC server listens and where its clients find it."""

    bind: str
    target: str


class ProcessSettings(BaseSettings):
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

    # The gateway's gRPC server: the device link for equipment (and health).
    gateway_grpc: GrpcEndpoint = GrpcEndpoint(bind="127.0.0.1:50050", target="127.0.0.1:50050")
    products_grpc: GrpcEndpoint = GrpcEndpoint(bind="127.0.0.1:50051", target="127.0.0.1:50051")
    production_grpc: GrpcEndpoint = GrpcEndpoint(bind="127.0.0.1:50052", target="127.0.0.1:50052")
    servitization_grpc: GrpcEndpoint = GrpcEndpoint(
        bind="127.0.0.1:50053", target="127.0.0.1:50053"
    )
    # Deadline of every internal gRPC call.
    grpc_deadline_s: float = Field(default=5.0, gt=0)
    # Where every process serves its Prometheus /metrics, apart from the public
    # API; 0 turns it off. Local by default, as the API is; pods listen on all
    # addresses (the chart and docker-compose set the host).
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9464, ge=0)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"

    def database_url_for(self, service: str) -> str:
        template = self.database_urls.get(service, self.database_url)
        return template.format(service=service, data_dir=self.data_dir.as_posix())

    def grpc_endpoint(self, service: str) -> GrpcEndpoint:
        endpoint: GrpcEndpoint = getattr(self, f"{service}_grpc")
        return endpoint
