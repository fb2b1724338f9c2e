"""What the domain needs from storage, as protocols the store implements."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from imcloud_core.ports import Transaction
from imcloud_servitization.domain.model import (
    CommandState,
    MaintenanceBooking,
    MaintenanceTicket,
    MaintenanceWindow,
    RemoteCommand,
    TicketChange,
    TicketNote,
    TicketState,
)

if TYPE_CHECKING:
    # The jobs and customization modules use these ports; only their annotations
    # need their types.
    from collections.abc import Sequence

    from imcloud_servitization.domain.alarms import (
        Alarm,
        AlarmFilter,
        AlarmRule,
        AlarmScope,
        Placement,
        ShiftFigures,
        Watch,
    )
    from imcloud_servitization.domain.configurator import SelectedStep
    from imcloud_servitization.domain.customization import (
        CustomerOrder,
        OrderState,
        ProductFamily,
        QualityRecord,
        Quote,
        SignalSummary,
        TracedWorkOrder,
        WorkOrderQuote,
    )
    from imcloud_servitization.domain.jobs import ExecutionState, FleetJob, JobExecution
    from imcloud_servitization.domain.webhooks import Channel, Delivery


class TicketRepository(Protocol):
    def add(self, ticket: MaintenanceTicket) -> None: ...

    def get(
        self, *, tenant_id: str, ticket_id: str, for_update: bool = False
    ) -> MaintenanceTicket | None: ...

    def for_episode(self, *, tenant_id: str, episode_id: str) -> MaintenanceTicket | None: ...

    def save(self, ticket: MaintenanceTicket) -> None: ...

    def add_note(self, note: TicketNote) -> None: ...

    def notes(self, *, tenant_id: str, ticket_id: str) -> list[TicketNote]:
        """Oldest first."""

    def add_change(self, change: TicketChange) -> None: ...

    def history(
        self, *, tenant_id: str, ticket_id: str, page_size: int, page_token: str
    ) -> tuple[list[TicketChange], str]:
        """Oldest first."""

    def list(
        self,
        *,
        tenant_id: str,
        equipment_id: str,
        states: list[TicketState],
        page_size: int,
        page_token: str,
    ) -> tuple[list[MaintenanceTicket], str]: ...


class Scheduler(Protocol):
    """The production service's schedule, as maintenance needs it."""

    def suggest_windows(
        self, *, tenant_id: str, station_id: str, duration_s: int, not_after: datetime, count: int
    ) -> list[MaintenanceWindow]: ...

    def book(
        self, *, tenant_id: str, station_id: str, start: datetime, end: datetime, label: str
    ) -> MaintenanceBooking:
        """Planned downtime of the station for the window, its reason starting with
        ``label``; the one booked before with the same label and window if any, so
        a retried booking books once."""

    def unbook(self, *, tenant_id: str, booking: MaintenanceBooking) -> bool:
        """Removes the booked downtime (gone already counts); False when it has
        started, and stays part of the record."""


class Machines(Protocol):
    """The products service's machines, as maintenance needs them."""

    def station_of(self, *, tenant_id: str, equipment_id: str) -> str:
        """The station the machine stands at; empty when it is not placed."""

    def reset_anomaly_model(self, *, tenant_id: str, equipment_id: str) -> None: ...


class CommandRepository(Protocol):
    def add(self, command: RemoteCommand) -> bool:
        """Stores a new command; False (and nothing stored) if its idempotency key
        is already the tenant's."""

    def get(
        self, *, tenant_id: str, command_id: str, for_update: bool = False
    ) -> RemoteCommand | None: ...

    def with_idempotency_key(self, *, tenant_id: str, key: str) -> RemoteCommand | None: ...

    def save(self, command: RemoteCommand) -> None: ...

    def overdue(self, *, now: datetime) -> list[RemoteCommand]:
        """Commands of every tenant still waiting past their expiry."""

    def due_for_resend(self, *, now: datetime, limit: int) -> list[RemoteCommand]:
        """Pending commands of every tenant, not expired, whose next send is due."""

    def list(
        self,
        *,
        tenant_id: str,
        equipment_id: str,
        states: list[CommandState],
        maker_tenant_id: str,
        job_id: str,
        page_size: int,
        page_token: str,
    ) -> tuple[list[RemoteCommand], str]:
        """Newest first; each filter applies when set (maker_tenant_id: only the
        commands that maker sent through a grant)."""


class JobRepository(Protocol):
    """Fleet jobs and their executions; a job read carries its summary."""

    def add(self, job: FleetJob, executions: list[JobExecution]) -> None: ...

    def get(self, *, tenant_id: str, job_id: str, for_update: bool = False) -> FleetJob | None:
        """The job; ``for_update`` holds it for this transaction (another replica's
        rollout waits)."""

    def save(self, job: FleetJob) -> None: ...

    def in_progress(self) -> list[tuple[str, str]]:
        """(tenant id, job id) of every tenant's jobs in progress."""

    def executions(
        self,
        *,
        tenant_id: str,
        job_id: str,
        states: list[ExecutionState],
        page_size: int,
        page_token: str,
    ) -> tuple[list[JobExecution], str]: ...

    def queued(self, *, tenant_id: str, job_id: str, limit: int) -> list[JobExecution]:
        """The next queued executions in rollout order."""

    def in_flight(self, *, tenant_id: str, job_id: str) -> list[JobExecution]: ...

    def started_since(self, *, tenant_id: str, job_id: str, since: datetime) -> int: ...

    def save_execution(self, execution: JobExecution) -> None: ...

    def cancel_queued(self, *, tenant_id: str, job_id: str, detail: str, at: datetime) -> None: ...

    def behind_commands(self, *, limit: int) -> list[tuple[JobExecution, CommandState, str]]:
        """Executions of every tenant whose command is in another state than they
        say, with the command's state and detail: those still waiting, and any of a
        job in progress."""

    def desired_applied(self, *, limit: int) -> list[tuple[JobExecution, str]]:
        """Desired-state executions of every tenant still waiting whose machine
        reported their version (or a newer one) applied, with what it could not apply."""

    def desired_overdue(self, *, now: datetime, limit: int) -> list[JobExecution]:
        """Desired-state executions of every tenant still waiting past their expiry."""

    def record_applied(
        self, *, tenant_id: str, equipment_id: str, version: int, detail: str, at: datetime
    ) -> None:
        """Keeps the newest desired version the machine reported applied."""

    def cancel_granted(
        self,
        *,
        owner_tenant_id: str,
        equipment_id: str,
        maker_tenant_id: str,
        commands: bool,
        desired_changes: bool,
        detail: str,
        at: datetime,
    ) -> int:
        """Cancels the queued executions on the owner's machine of the maker's jobs
        through grants (command jobs, desired-state jobs or both); how many."""

    def list(
        self, *, tenant_id: str, through_grants: bool, page_size: int, page_token: str
    ) -> tuple[list[FleetJob], str]: ...


class DesiredStates(Protocol):
    """Machines' desired states (the products service keeps the twins)."""

    def change_desired(
        self, *, tenant_id: str, equipment_id: str, patch: dict[str, Any], actor: str
    ) -> int:
        """Applies the JSON merge patch to the machine's desired properties and
        returns its desired version after (the same when the patch changes nothing)."""


class FamilyRepository(Protocol):
    def add(self, family: ProductFamily) -> bool:
        """Stores a new family; False (and nothing stored) if the tenant has one of its name."""

    def get(
        self, *, tenant_id: str, family_id: str, for_update: bool = False
    ) -> ProductFamily | None: ...

    def named(self, *, tenant_id: str, name: str) -> ProductFamily | None: ...

    def save(self, family: ProductFamily) -> None: ...

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[ProductFamily], str]:
        """By name."""


class QuoteRepository(Protocol):
    def add(self, quote: Quote) -> None: ...

    def get(self, *, tenant_id: str, quote_id: str, for_update: bool = False) -> Quote | None: ...

    def save(self, quote: Quote) -> None:
        """Its state and order."""

    def list(self, *, tenant_id: str, page_size: int, page_token: str) -> tuple[list[Quote], str]:
        """Newest first."""


class OrderRepository(Protocol):
    def add(self, order: CustomerOrder) -> None: ...

    def get(
        self, *, tenant_id: str, order_id: str, for_update: bool = False
    ) -> CustomerOrder | None: ...

    def with_key_hash(self, key_hash: str) -> CustomerOrder | None:
        """The order of any tenant whose order key has this hash."""

    def save(self, order: CustomerOrder) -> None:
        """Its state, stages and work order."""

    def list(
        self, *, tenant_id: str, states: list[OrderState], page_size: int, page_token: str
    ) -> tuple[list[CustomerOrder], str]:
        """Newest first; only orders in ``states`` when given."""


class Production(Protocol):
    """The production service as mass customization needs it: the plants and
    products a family names, the what-if schedule, and the work orders that make
    customer orders."""

    def has_plant(self, *, tenant_id: str, plant_id: str) -> bool: ...

    def has_product(self, *, tenant_id: str, product_id: str) -> bool: ...

    def quote(
        self,
        *,
        tenant_id: str,
        plant_id: str,
        product_id: str,
        quantity: int,
        routing: Sequence[SelectedStep],
    ) -> WorkOrderQuote:
        """When the plant would finish the order if it were released now, planned
        with the routing and without a due time; raises Unavailable when production
        cannot answer."""

    def work_order(self, *, tenant_id: str, work_order_id: str) -> TracedWorkOrder | None: ...

    def quality_records(self, *, tenant_id: str, work_order_id: str) -> list[QualityRecord]: ...


class Telemetry(Protocol):
    """The products service's machines and what they recorded."""

    def machines_at(self, *, tenant_id: str, station_id: str) -> list[str]:
        """The machines placed at the station now."""

    def signal_buckets(
        self, *, tenant_id: str, equipment_id: str, start: datetime, end: datetime
    ) -> list[SignalSummary]:
        """Each signal's points with start <= time < end, in at most two buckets each."""


# -- Webhooks and e-mail --


class NotificationChannelRepository(Protocol):
    def add(self, channel: Channel) -> None: ...

    def get(self, *, tenant_id: str, channel_id: str) -> Channel | None: ...

    def delete(self, *, tenant_id: str, channel_id: str) -> bool: ...

    def for_tenant(self, *, tenant_id: str) -> list[Channel]: ...

    def list(self, *, tenant_id: str, page_size: int, page_token: str) -> tuple[list[Channel], str]:
        """Oldest first."""


class NotificationDeliveryRepository(Protocol):
    def add(self, delivery: Delivery) -> bool:
        """False when the channel already has a delivery of the event."""

    def get(
        self, *, tenant_id: str, delivery_id: str, for_update: bool = False
    ) -> Delivery | None: ...

    def save(self, delivery: Delivery) -> None: ...

    def due(
        self, *, now: datetime, limit: int, skip_channels: set[str] | frozenset[str]
    ) -> list[Delivery]:
        """Pending deliveries due by ``now``, across tenants, locked (skipping locked ones)."""

    def give_up_pending(
        self, *, tenant_id: str, channel_id: str, reason: str, now: datetime
    ) -> int: ...

    def list(
        self, *, tenant_id: str, channel_id: str, page_size: int, page_token: str
    ) -> tuple[list[Delivery], str]:
        """Oldest first."""


# -- end of webhooks and e-mail --


class AlarmRuleRepository(Protocol):
    def add(self, rule: AlarmRule) -> None: ...

    def get(self, *, tenant_id: str, rule_id: str) -> AlarmRule | None: ...

    def delete(self, *, tenant_id: str, rule_id: str) -> bool: ...

    def existing(self, *, tenant_id: str, rule_ids: Sequence[str]) -> set[str]:
        """Those of the rules that the tenant still has."""

    def version(self, *, tenant_id: str) -> tuple[int, datetime | None]:
        """How many rules the tenant has and when the newest was created: what
        changes whenever a rule is created or deleted."""

    def of_tenant(self, *, tenant_id: str) -> list[AlarmRule]: ...

    def list(
        self, *, tenant_id: str, page_size: int, page_token: str
    ) -> tuple[list[AlarmRule], str]:
        """Oldest first."""


class AlarmRepository(Protocol):
    def add(self, alarm: Alarm) -> None: ...

    def get(self, *, tenant_id: str, alarm_id: str, for_update: bool = False) -> Alarm | None: ...

    def save(self, alarm: Alarm) -> None: ...

    def open_on(
        self, *, tenant_id: str, equipment_id: str, rule_ids: Sequence[str]
    ) -> dict[str, Alarm]:
        """The rules' open alarms on the machine by rule, locked for the transaction."""

    def open_of_rule(self, *, tenant_id: str, rule_id: str) -> list[Alarm]: ...

    def list(
        self, *, tenant_id: str, where: AlarmFilter, page_size: int, page_token: str
    ) -> tuple[list[Alarm], str]:
        """Newest raised first."""


class AlarmWatchRepository(Protocol):
    def of_machine(
        self, *, tenant_id: str, equipment_id: str, rule_ids: Sequence[str]
    ) -> dict[str, Watch]:
        """The rules' watches of the machine by rule, locked for the transaction."""

    def save(self, *watches: Watch) -> None: ...

    def delete_of_rule(self, *, tenant_id: str, rule_id: str) -> None: ...

    def due(self, *, now_ms: int, limit: int) -> list[Watch]:
        """Watches of every tenant due by now, soonest first (not locked)."""


class Placements(Protocol):
    def placement_of(self, *, tenant_id: str, equipment_id: str) -> Placement | None:
        """None for a machine the tenant does not have (any more)."""


class ShiftKpis(Protocol):
    def per_shift(
        self, *, tenant_id: str, scope: AlarmScope, start: datetime, end: datetime
    ) -> list[ShiftFigures]:
        """The scope's OEE per shift of its plant over [start, end) on whole
        minutes, each shift cut to the range."""


class UnitOfWork(Transaction, Protocol):
    @property
    def tickets(self) -> TicketRepository: ...

    @property
    def commands(self) -> CommandRepository: ...

    @property
    def jobs(self) -> JobRepository: ...

    @property
    def families(self) -> FamilyRepository: ...

    @property
    def quotes(self) -> QuoteRepository: ...

    @property
    def orders(self) -> OrderRepository: ...

    # Webhooks and e-mail
    @property
    def notification_channels(self) -> NotificationChannelRepository: ...

    @property
    def notification_deliveries(self) -> NotificationDeliveryRepository: ...

    @property
    def alarm_rules(self) -> AlarmRuleRepository: ...

    @property
    def alarms(self) -> AlarmRepository: ...

    @property
    def alarm_watches(self) -> AlarmWatchRepository: ...
