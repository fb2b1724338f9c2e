"""How the gateway starts: the REST API on uvicorn, its gRPC server, its outbox relay."""

from __future__ import annotations

import threading
import time

import uvicorn

from imcloud_core.bus import Subscription
from imcloud_core.events import Topic
from imcloud_core.logging import get_logger
from imcloud_core.outbox import Outbox
from imcloud_core.rpc import GrpcServer
from imcloud_core.service import Runtime, ServiceDefinition, every, open_database
from imcloud_gateway.api.context import GatewayContext
from imcloud_gateway.api.device_link import DeviceLinkServicer
from imcloud_gateway.api.device_link import register as register_device_link
from imcloud_gateway.api.http.app import create_app
from imcloud_gateway.clients.backends import Backends
from imcloud_gateway.clients.kubernetes import KubernetesNamespaces, connect
from imcloud_gateway.events.commands import CommandRelay
from imcloud_gateway.events.commands import group_for_this_process as command_group
from imcloud_gateway.events.handlers import GROUP, equipment_lifecycle_handler
from imcloud_gateway.events.provisioning import GROUP as PROVISIONING_GROUP
from imcloud_gateway.events.provisioning import Provisioner, policy_from
from imcloud_gateway.settings import GatewaySettings, ProvisioningSettings
from imcloud_gateway.store.tables import outbox

NAME = "gateway"
PACKAGE = "imcloud_gateway"
log = get_logger(__name__)


class Gateway:
    def __init__(self, context: GatewayContext, provisioner: Provisioner | None) -> None:
        self.context = context
        settings = context.settings
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_app(context),
                host=settings.http_host,
                port=settings.http_port,
                log_config=None,  # our logging setup renders uvicorn's records
                access_log=False,  # the middleware counts and logs requests
                server_header=False,
            )
        )
        self._commands = CommandRelay(
            bus=context.bus,
            streams=context.streams,
            backends=context.backends,
            deadline_s=context.process.grpc_deadline_s,
        )
        device_link = DeviceLinkServicer(
            unit_of_work=context.unit_of_work,
            intake=context.intake,
            streams=context.streams,
            connection_changed=lambda device, connected: context.telemetry.connection_changed(
                device, connected=connected
            ),
            commands=self._commands,
        )
        self._grpc = GrpcServer(
            name=NAME,
            bind=context.process.grpc_endpoint(NAME).bind,
            register=[register_device_link(device_link)],
            # One thread per open device stream: this bounds the machines one
            # gateway replica serves at once.
            max_workers=context.settings.max_device_streams,
        )
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._subscriptions: list[Subscription] = []
        self._provisioner = provisioner

    def start(self) -> None:
        http = threading.Thread(target=self._server.run, name="gateway-http", daemon=True)
        relay = threading.Thread(
            target=self.context.outbox.run_relay,
            args=(self.context.db, self.context.bus, self._stopping),
            name="outbox-gateway",
            daemon=True,
        )
        self._threads = [http, relay]
        self._grpc.start()
        for thread in self._threads:
            thread.start()
        self._subscriptions.append(
            self.context.bus.subscribe(
                group=GROUP,
                topics=[Topic.PRODUCTS_EVENTS],
                handler=equipment_lifecycle_handler(self.context.unit_of_work),
            )
        )
        self._subscriptions.append(
            self.context.bus.subscribe(
                group=command_group(),
                topics=[Topic.COMMANDS],
                handler=self._commands.handle,
                from_latest=True,
            )
        )
        if self._provisioner is not None:
            self._start_provisioning(self._provisioner)
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not http.is_alive() or time.monotonic() > deadline:
                settings = self.context.settings
                raise OSError(
                    f"the REST API could not listen on {settings.http_host}:{settings.http_port} "
                    "(IMCLOUD_GATEWAY__HTTP_HOST / IMCLOUD_GATEWAY__HTTP_PORT)"
                )
            time.sleep(0.02)
        settings = self.context.settings
        log.info("gateway listening", url=f"http://{settings.http_host}:{settings.http_port}")

    def _start_provisioning(self, provisioner: Provisioner) -> None:
        self._subscriptions.append(
            self.context.bus.subscribe(
                group=PROVISIONING_GROUP, topics=[Topic.TENANT_EVENTS], handler=provisioner.handle
            )
        )
        reconcile_periodically = every(
            self.context.provisioning.reconcile_every_s,
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
        for subscription in self._subscriptions:
            subscription.stop()
        self._server.should_exit = True
        self.context.streams.close_all()
        self._grpc.stop()
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.context.backends.close()
        self.context.db.close()


def build(
    runtime: Runtime, settings: GatewaySettings, provisioning: ProvisioningSettings
) -> Gateway:
    process = runtime.settings
    context = GatewayContext(
        process=process,
        settings=settings,
        provisioning=provisioning,
        db=open_database(process, service=NAME, package=PACKAGE),
        outbox=Outbox(outbox),
        bus=runtime.require_bus(),
        backends=Backends.connect(process),
    )
    provisioner = None
    if provisioning.enabled:
        provisioner = Provisioner(
            unit_of_work=context.unit_of_work,
            namespaces=KubernetesNamespaces(connect(provisioning.kubeconfig)),
            records=context.provisioning_records,
            policy=policy_from(provisioning),
        )
    return Gateway(context, provisioner)


SERVICE = ServiceDefinition(name=NAME, package=PACKAGE)
