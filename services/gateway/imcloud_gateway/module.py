"""How the gateway starts: its parts wired from the settings, then the REST API on
uvicorn, its gRPC server (the device link), its event handlers and outbox relay."""

from __future__ import annotations

import functools
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvicorn

from imcloud_core.bus import EventBus, Subscription, stop_all
from imcloud_core.db import Database
from imcloud_core.events import Topic
from imcloud_core.logging import get_logger
from imcloud_core.outbox import Outbox
from imcloud_core.rpc import GrpcServer
from imcloud_core.service import Runtime, every, open_database
from imcloud_gateway.api.device_link import DeviceLinkServicer, DeviceSessions, OpenStreams
from imcloud_gateway.api.device_link import register as register_device_link
from imcloud_gateway.api.http.app import create_app
from imcloud_gateway.api.http.context import HttpContext
from imcloud_gateway.api.intake import TelemetryIntake
from imcloud_gateway.api.mqtt.server import MqttEndpoint
from imcloud_gateway.clients.backends import (
    Backends,
    ProductsEquipmentDirectory,
    ProductsSignalCatalog,
)
from imcloud_gateway.clients.kubernetes import KubernetesNamespaces, connect
from imcloud_gateway.domain.model import DevicePrincipal
from imcloud_gateway.domain.ports import UnitOfWork
from imcloud_gateway.domain.ratelimit import RateLimiter
from imcloud_gateway.domain.telemetry import TelemetryLimits
from imcloud_gateway.events.commands import COMMANDS_GROUP, CommandRelay
from imcloud_gateway.events.desired import DESIRED_GROUP, DesiredStateRelay
from imcloud_gateway.events.handlers import GROUP, equipment_lifecycle_handler
from imcloud_gateway.events.provisioning import GROUP as PROVISIONING_GROUP
from imcloud_gateway.events.provisioning import Provisioner, policy_from
from imcloud_gateway.events.publishing import to_outbox_entry
from imcloud_gateway.events.telemetry import TelemetryPublisher
from imcloud_gateway.settings import GatewaySettings, ProvisioningSettings
from imcloud_gateway.store.repository import GatewayUnitOfWork, SqlProvisioningRecords
from imcloud_gateway.store.tables import outbox

NAME = "gateway"
SPARE_GRPC_THREADS = 8
PACKAGE = "imcloud_gateway"
log = get_logger(__name__)


@dataclass(frozen=True)
class Parts:
    """The gateway's parts, each given the others it works with."""

    db: Database
    bus: EventBus
    staged: Outbox
    backends: Backends
    unit_of_work: Callable[[], UnitOfWork]
    streams: OpenStreams
    http: HttpContext
    device_link: DeviceLinkServicer
    mqtt: MqttEndpoint | None
    commands: CommandRelay
    desired: DesiredStateRelay
    provisioner: Provisioner | None


def unit_of_work(db: Database, staged: Outbox | None = None) -> Callable[[], GatewayUnitOfWork]:
    """How every part of the gateway opens a business transaction; ``staged`` is
    the outbox whose relay this process runs (tools and tests get one of their own)."""
    return functools.partial(GatewayUnitOfWork, db, staged or Outbox(outbox), to_outbox_entry)


def wire(
    *,
    settings: GatewaySettings,
    provisioning: ProvisioningSettings,
    db: Database,
    bus: EventBus,
    backends: Backends,
) -> Parts:
    staged = Outbox(outbox)
    transaction = unit_of_work(db, staged)

    telemetry = TelemetryPublisher(bus)
    intake = TelemetryIntake(
        catalog=ProductsSignalCatalog(backends, ttl_s=settings.model_cache_s),
        sink=telemetry,
        limits=TelemetryLimits(
            max_points_per_batch=settings.max_points_per_batch,
            max_future_ms=settings.max_future_s * 1000,
            max_age_ms=settings.max_age_s * 1000,
        ),
    )
    streams = OpenStreams(settings.max_device_streams)
    commands = CommandRelay(bus=bus, links=streams, backends=backends)
    desired = DesiredStateRelay(links=streams, backends=backends)
    records = SqlProvisioningRecords(db)
    http = HttpContext(
        settings=settings,
        unit_of_work=transaction,
        backends=backends,
        equipment_directory=ProductsEquipmentDirectory(backends),
        intake=intake,
        streams=streams,
        tenant_limits=RateLimiter(
            rate_per_s=settings.tenant_rate_per_s, burst=settings.tenant_burst
        ),
        credential_limits=RateLimiter(
            rate_per_s=settings.credential_rate_per_s, burst=settings.credential_burst
        ),
        anonymous_limits=RateLimiter(
            rate_per_s=settings.anonymous_rate_per_s, burst=settings.anonymous_burst
        ),
        provisioning_records=records if provisioning.enabled else None,
        db=db,
        bus=bus,
    )

    def connection_changed(device: DevicePrincipal, connected: bool) -> None:
        telemetry.connection_changed(device, connected=connected)

    sessions = DeviceSessions(
        unit_of_work=transaction,
        intake=intake,
        streams=streams,
        connection_changed=connection_changed,
        commands=commands,
        desired=desired,
    )
    device_link = DeviceLinkServicer(sessions)
    mqtt = None
    if settings.mqtt_enabled:
        mqtt = MqttEndpoint(
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            tls=_tls(settings),
            tls_port=settings.mqtt_tls_port,
            max_connections=settings.mqtt_max_connections,
            max_packet_bytes=settings.max_request_bytes,
            sessions=sessions,
        )
    provisioner = None
    if provisioning.enabled:
        provisioner = Provisioner(
            unit_of_work=transaction,
            namespaces=KubernetesNamespaces(connect(provisioning.kubeconfig)),
            records=records,
            policy=policy_from(provisioning),
        )
    return Parts(
        db=db,
        bus=bus,
        staged=staged,
        backends=backends,
        unit_of_work=transaction,
        streams=streams,
        http=http,
        device_link=device_link,
        mqtt=mqtt,
        commands=commands,
        desired=desired,
        provisioner=provisioner,
    )


def _tls(settings: GatewaySettings) -> ssl.SSLContext | None:
    if not settings.mqtt_tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(settings.mqtt_tls_cert_file, settings.mqtt_tls_key_file or None)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(
            f"IMCLOUD_GATEWAY__MQTT_TLS_CERT_FILE / IMCLOUD_GATEWAY__MQTT_TLS_KEY_FILE: {error}"
        ) from error
    return context


class Gateway:
    def __init__(
        self,
        parts: Parts,
        *,
        settings: GatewaySettings,
        grpc_bind: str,
        reconcile_every_s: float,
    ) -> None:
        self._parts = parts
        self._settings = settings
        self._reconcile_every_s = reconcile_every_s
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_app(parts.http),
                host=settings.http_host,
                port=settings.http_port,
                # uvicorn believes 127.0.0.1 (or $FORWARDED_ALLOW_IPS) by default:
                # any local process could forge its address.
                proxy_headers=bool(settings.trusted_proxies),
                forwarded_allow_ips=settings.trusted_proxies,
                log_config=None,  # our logging setup renders uvicorn's records
                access_log=False,  # the middleware counts and logs requests
                server_header=False,
                # A console's live views end within a second of `stopping`; this bounds
                # any other response still streaming.
                timeout_graceful_shutdown=5,
            )
        )
        self._grpc = GrpcServer(
            name=NAME,
            bind=grpc_bind,
            register=[register_device_link(parts.device_link)],
            # One thread per open device stream, and a few more so that health
            # checks and refusals answer while every stream is taken.
            max_workers=settings.max_device_streams + SPARE_GRPC_THREADS,
        )
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._subscriptions: list[Subscription] = []

    def start(self) -> None:
        parts = self._parts
        http = threading.Thread(target=self._server.run, name="gateway-http", daemon=True)
        relay = threading.Thread(
            target=parts.staged.run_relay,
            args=(parts.db, parts.bus, self._stopping),
            name="outbox-gateway",
            daemon=True,
        )
        self._threads = [http, relay]
        # Positioned before the device link opens: a command recorded once a
        # machine can connect here is one this replica sees.
        self._subscriptions.append(
            parts.bus.subscribe(
                group=COMMANDS_GROUP,
                topics=[Topic.COMMANDS],
                handler=parts.commands.handle,
                from_latest=True,
            )
        )
        self._subscriptions.append(
            parts.bus.subscribe(
                group=DESIRED_GROUP,
                topics=[Topic.PRODUCTS_EVENTS],
                handler=parts.desired.handle,
                from_latest=True,
            )
        )
        self._grpc.start()
        if parts.mqtt is not None:
            parts.mqtt.start()
        for thread in self._threads:
            thread.start()
        self._subscriptions.append(
            parts.bus.subscribe(
                group=GROUP,
                topics=[Topic.PRODUCTS_EVENTS],
                handler=equipment_lifecycle_handler(parts.unit_of_work),
            )
        )
        if parts.provisioner is not None:
            self._start_provisioning(parts.provisioner)
        settings = self._settings
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not http.is_alive() or time.monotonic() > deadline:
                raise OSError(
                    f"the REST API could not listen on {settings.http_host}:{settings.http_port} "
                    "(IMCLOUD_GATEWAY__HTTP_HOST / IMCLOUD_GATEWAY__HTTP_PORT)"
                )
            time.sleep(0.02)
        log.info("gateway listening", url=f"http://{settings.http_host}:{settings.http_port}")

    def _start_provisioning(self, provisioner: Provisioner) -> None:
        self._subscriptions.append(
            self._parts.bus.subscribe(
                group=PROVISIONING_GROUP, topics=[Topic.TENANT_EVENTS], handler=provisioner.handle
            )
        )
        reconcile_periodically = every(
            self._reconcile_every_s,
            "tenant reconciliation",
            provisioner.reconcile_all,
            run_at_start=False,
        )
        reconciler = threading.Thread(
            target=reconcile_periodically, args=(self._stopping,), name="provisioning", daemon=True
        )
        reconciler.start()
        self._threads.append(reconciler)

    def stop(self) -> None:
        stop_all(self._subscriptions)
        self._parts.http.stopping.set()
        self._server.should_exit = True
        if self._parts.mqtt is not None:
            self._parts.mqtt.stop()
        self._parts.streams.close_all()
        self._grpc.stop()
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._parts.backends.close()
        self._parts.db.close()


def build(
    runtime: Runtime, settings: GatewaySettings, provisioning: ProvisioningSettings
) -> Gateway:
    process = runtime.settings
    parts = wire(
        settings=settings,
        provisioning=provisioning,
        db=open_database(process, service=NAME, package=PACKAGE),
        bus=runtime.require_bus(),
        backends=Backends.connect(process),
    )
    return Gateway(
        parts,
        settings=settings,
        grpc_bind=process.grpc_endpoint(NAME).bind,
        reconcile_every_s=provisioning.reconcile_every_s,
    )
