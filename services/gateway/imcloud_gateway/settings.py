"""The gateway's own settings: its listeners, tokens, limits and provisioning.

Sections of the process settings (``IMCLOUD_GATEWAY__*`` and
``IMCLOUD_PROVISIONING__*``); the platform composes them and checks the whole.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

# HS256 keys shorter than the hash output weaken the signature (RFC 7518, 3.2).
MIN_SECRET_BYTES = 32


class GatewaySettings(BaseModel):
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    # Signs access tokens. Empty: `imcloud up` keeps a random one in its data
    # directory; `imcloud serve gateway` refuses to start.
    jwt_secret: SecretStr = SecretStr("")
    jwt_ttl_s: int = Field(default=900, ge=30, le=86_400)
    cors_origins: list[str] = Field(default_factory=list)
    # Proxies (addresses or CIDRs, e.g. 10.0.0.0/8) whose X-Forwarded-For and
    # X-Forwarded-Proto the gateway believes; empty: nobody's, the client is the
    # peer of the connection (rate limits per address, the audit log's source_ip).
    trusted_proxies: list[str] = Field(default_factory=list)
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
    # The MQTT endpoint for machines (ThingsBoard's device topics). Its packets are
    # limited to max_request_bytes, as HTTP bodies are.
    mqtt_enabled: bool = True
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=0, le=65_535)
    # MQTT connections one gateway process holds at once (no thread each).
    mqtt_max_connections: int = Field(default=10_000, ge=1)
    # MQTT over TLS, listening only when a certificate and its key are given (PEM).
    mqtt_tls_port: int = Field(default=8883, ge=0, le=65_535)
    mqtt_tls_cert_file: str = ""
    mqtt_tls_key_file: str = ""
    # Public sign-up; operators may turn it off and create tenants with the CLI.
    signup_enabled: bool = True
    # Telemetry points in one batch; larger batches are refused whole.
    max_points_per_batch: int = Field(default=50_000, ge=1)
    # How far ahead of the gateway's clock a timestamp may be (device clock skew).
    max_future_s: int = Field(default=300, ge=0)
    # How old a point may be; devices buffer while offline, but not forever.
    max_age_s: int = Field(default=7 * 86_400, ge=60)
    # How long the gateway caches a machine's signal definitions.
    model_cache_s: float = Field(default=30.0, ge=0)
    # A console sign-in lasts this long (its token ends sooner if the key is revoked).
    console_session_s: int = Field(default=8 * 3600, ge=300, le=7 * 86_400)
    # Live views (Server-Sent Events) one credential holds open at once, per replica.
    console_live_streams_per_credential: int = Field(default=32, ge=1)

    def secret_problem(self) -> str | None:
        """Why the JWT secret cannot sign tokens in a real deployment, if it cannot."""
        secret = self.jwt_secret.get_secret_value()
        if not secret:
            return (
                "IMCLOUD_GATEWAY__JWT_SECRET: not set; every gateway replica needs the same "
                "random secret (try: openssl rand -hex 32)"
            )
        if len(secret.encode()) < MIN_SECRET_BYTES:
            return (
                f"IMCLOUD_GATEWAY__JWT_SECRET: at least {MIN_SECRET_BYTES} bytes are needed to "
                "sign tokens safely (try: openssl rand -hex 32)"
            )
        return None


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
