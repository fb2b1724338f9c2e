"""The `imcloud` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from imcloud_core.db import create_database_engine
from imcloud_core.errors import ConfigurationError
from imcloud_core.logging import configure_logging, get_logger
from imcloud_core.migrations import new_revision, upgrade_to_head
from imcloud_core.rpc import check_health
from imcloud_core.service import open_database
from imcloud_gateway.domain import identity
from imcloud_gateway.domain.model import Tenant, TenantKind, Tier
from imcloud_platform.claims import DataDirectoryLock, listen_addresses, require_free
from imcloud_platform.modules import SERVICES
from imcloud_platform.runner import run
from imcloud_platform.settings import Settings, load_settings
from imcloud_simulator import command as simulator_command

log = get_logger(__name__)
# Beside the repository, as the README lays them out.
DEFAULT_DATASETS = Path(__file__).resolve().parents[3].parent / "shared" / "datasets"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="imcloud",
        description="imcloud, the intelligent manufacturing cloud platform.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up",
        help="run the whole platform in this process (embedded: SQLite, in-process bus)",
    )
    up.add_argument(
        "--demo",
        action="store_true",
        help="also run a small simulated plant (5 machines at 1 Hz) in a new demo tenant",
    )
    serve = commands.add_parser(
        "serve", help="run one service of a distributed deployment (PostgreSQL and Kafka)"
    )
    serve.add_argument("service", choices=sorted(SERVICES))
    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument(
        "services",
        nargs="*",
        choices=[[], *sorted(SERVICES)],
        metavar="SERVICE",
        help="services to migrate (default: all)",
    )
    tenant = commands.add_parser(
        "create-tenant", help="(operators) create a tenant and print its owner API key"
    )
    tenant.add_argument("name")
    tenant.add_argument("--kind", choices=[k.value for k in TenantKind], default="enterprise")
    tenant.add_argument("--tier", choices=[t.value for t in Tier], default="shared")
    probe = commands.add_parser(
        "probe", help="exit 0 if the gRPC server at TARGET reports SERVING (health checks)"
    )
    probe.add_argument("target", help="host:port, e.g. 127.0.0.1:50051")
    simulate = commands.add_parser(
        "simulate",
        help="onboard a simulated plant through the REST API and stream its telemetry",
    )
    simulator_command.add_arguments(simulate)
    # Parsed by the device SDK's imcloud-edge, which main() hands the rest of the line to.
    commands.add_parser(
        "edge",
        add_help=False,
        help="forward a machine's OPC UA values through the device link (imcloud-edge; "
        "'imcloud edge --help' lists its options)",
    )
    evaluation = commands.add_parser(
        "eval", help="score the anomaly detector on the public labelled datasets"
    )
    evaluation.add_argument("what", choices=["anomaly"])
    evaluation.add_argument(
        "--datasets",
        type=Path,
        default=DEFAULT_DATASETS,
        help=f"the datasets folder with skab/ and nab/ (default: {DEFAULT_DATASETS})",
    )
    evaluation.add_argument(
        "--through-platform",
        action="store_true",
        help="also replay SKAB through an embedded platform and score what it stored",
    )
    revision = commands.add_parser(
        "make-migration", help="(developers) write the next migration of a service"
    )
    revision.add_argument("service", choices=sorted(SERVICES))
    revision.add_argument("-m", "--message", required=True)
    return parser


def migrate(settings: Settings, services: Sequence[str]) -> None:
    for name in services or sorted(SERVICES):
        service = SERVICES[name]
        engine = create_database_engine(
            settings.database_url_for(name), setting="IMCLOUD_DATABASE_URL"
        )
        try:
            upgrade_to_head(engine, package=service.package)
        finally:
            engine.dispose()
        log.info("database migrated", service=name)


def create_tenant(
    settings: Settings, *, name: str, kind: TenantKind, tier: Tier
) -> tuple[Tenant, str]:
    """Creates a tenant straight in the gateway's database (sign-up turned off, say);
    its tenant.onboarded event leaves with the gateway's outbox relay."""
    # Imported here: only the gateway's processes need its code otherwise.
    from imcloud_gateway import module as gateway

    db = open_database(settings, service="gateway", package=SERVICES["gateway"].package)
    try:
        uow = gateway.unit_of_work(db)()
        created, owner_key = identity.sign_up(uow, name=name, kind=kind, tier=tier)
    finally:
        db.close()
    return created, owner_key.plaintext


def up(settings: Settings, *, demo: bool) -> None:
    """The embedded mode is for one person's machine: claim it, migrate and go."""
    data_dir = DataDirectoryLock(settings.data_dir)
    data_dir.acquire()
    try:
        settings = settings.for_embedded()
        require_free(listen_addresses(settings, sorted(SERVICES)))
        migrate(settings, [])
        plant = None
        if demo:
            from imcloud_platform.demo import DemoPlant

            plant = DemoPlant(settings)
        if plant is not None:
            plant.start()  # it waits for the platform to answer
        try:
            run("all", settings)
        finally:
            if plant is not None:
                plant.stop()
    finally:
        data_dir.release()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["edge"]:
        from imcloud_device import edge

        return edge.main(arguments[1:])
    args = _parser().parse_args(arguments)
    try:
        settings = load_settings()
        configure_logging(level=settings.log_level, fmt=settings.log_format)
        if args.command == "up":
            up(settings, demo=args.demo)
        elif args.command == "serve":
            problems = settings.problems_for([args.service], distributed=True)
            if problems:
                raise ConfigurationError("; ".join(problems))
            require_free(listen_addresses(settings, [args.service]))
            run(args.service, settings)
        elif args.command == "migrate":
            migrate(settings, args.services)
        elif args.command == "create-tenant":
            created, owner_key = create_tenant(
                settings, name=args.name, kind=TenantKind(args.kind), tier=Tier(args.tier)
            )
            print(f"tenant id: {created.id}\nowner API key (shown once): {owner_key}")
        elif args.command == "probe":
            return 0 if check_health(args.target) else 1
        elif args.command == "simulate":
            return simulator_command.simulate(
                args,
                local_api=settings.local_api_url(),
                local_device_link=settings.gateway_grpc.target,
            )
        elif args.command == "eval":
            if not (args.datasets / "skab").is_dir():
                raise ConfigurationError(
                    f"--datasets: no skab/ folder in {args.datasets} (see the README)"
                )
            # Imported here: the evaluation is a tool, not part of any service's runtime.
            from imcloud_products.evaluation.report import evaluate

            print(evaluate(args.datasets, through_platform=args.through_platform))
        elif args.command == "make-migration":
            new_revision(package=SERVICES[args.service].package, message=args.message)
    except ConfigurationError as exc:
        print(f"imcloud: configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"imcloud: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
