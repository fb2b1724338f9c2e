"""The servitization service's tables (its own database; nobody else reads them)."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
)

from imcloud_core.outbox import outbox_table
from imcloud_core.store import UtcDateTime, new_metadata

metadata = new_metadata()

maintenance_tickets = Table(
    "maintenance_tickets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("equipment_id", String(36), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("priority", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("source_episode_id", String(120), nullable=False, server_default=""),
    Column("assignee", String(120), nullable=False, server_default=""),
    # The booked window (planned downtime in production); NULL while none is booked.
    Column("booking_downtime_id", String(36), nullable=True),
    Column("booking_plant_id", String(36), nullable=True),
    Column("booking_station_id", String(36), nullable=True),
    Column("booking_start_time", UtcDateTime, nullable=True),
    Column("booking_end_time", UtcDateTime, nullable=True),
    Index("ix_maintenance_tickets_tenant_created", "tenant_id", "create_time", "id"),
    Index("ix_maintenance_tickets_tenant_episode", "tenant_id", "source_episode_id"),
    Index("ix_maintenance_tickets_tenant_equipment", "tenant_id", "equipment_id"),
    Index("ix_maintenance_tickets_tenant_state", "tenant_id", "state", "create_time"),
)

maintenance_ticket_notes = Table(
    "maintenance_ticket_notes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("ticket_id", String(36), nullable=False),
    Column("author", String(120), nullable=False),
    Column("text", Text, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Index("ix_maintenance_ticket_notes_ticket", "tenant_id", "ticket_id", "create_time"),
)

# A ticket's history; create_time is the change's time (the paging key's).
maintenance_ticket_changes = Table(
    "maintenance_ticket_changes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("ticket_id", String(36), nullable=False),
    Column("actor", String(120), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("field", String(16), nullable=False),
    Column("from_value", String(200), nullable=False),
    Column("to_value", String(200), nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_maintenance_ticket_changes_ticket", "tenant_id", "ticket_id", "create_time", "id"),
)

remote_commands = Table(
    "remote_commands",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("equipment_id", String(36), nullable=False),
    Column("name", String(64), nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("detail", Text, nullable=False),
    Column("requested_by", String(120), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("expire_time", UtcDateTime, nullable=False),
    Column("cancelled_by", String(120), nullable=False, server_default=""),
    # NULL without a key: a unique index keeps NULLs apart on both databases.
    Column("idempotency_key", String(200), nullable=True),
    Column("request_fingerprint", String(64), nullable=False, server_default=""),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_time", UtcDateTime, nullable=True),
    Column("late", Boolean, nullable=False, server_default=false()),
    Column("job_id", String(36), nullable=False, server_default=""),
    Index("ix_remote_commands_tenant_equipment", "tenant_id", "equipment_id", "create_time"),
    Index("ix_remote_commands_state_expiry", "state", "expire_time"),
    Index("ix_remote_commands_state_next_attempt", "state", "next_attempt_time"),
    Index("ux_remote_commands_tenant_idempotency_key", "tenant_id", "idempotency_key", unique=True),
    Index("ix_remote_commands_tenant_job", "tenant_id", "job_id", "create_time"),
)

fleet_jobs = Table(
    "fleet_jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("target_kind", String(32), nullable=False),
    Column("target_id", String(36), nullable=False),
    Column("command_name", String(64), nullable=False),
    Column("command_parameters", JSON, nullable=False),
    Column("timeout_s", Integer, nullable=False),
    Column("machines_per_minute", Integer, nullable=False),
    Column("failed_percent", Integer, nullable=False),
    Column("min_ended", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("machine_count", Integer, nullable=False),
    Column("detail", Text, nullable=False),
    Column("requested_by", String(120), nullable=False),
    Column("through_grants", Boolean, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("end_time", UtcDateTime, nullable=True),
    # The merge patch of a desired-state job; NULL for a command job.
    Column("desired_patch", JSON, nullable=True),
    Index("ix_fleet_jobs_tenant_created", "tenant_id", "through_grants", "create_time", "id"),
    Index("ix_fleet_jobs_state", "state"),
)

# One row per machine of a job; tenant_id is the job's, owner_tenant_id the
# machine's (they differ for a maker's job through grants).
job_executions = Table(
    "job_executions",
    metadata,
    Column("job_id", String(36), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("equipment_id", String(36), nullable=False),
    Column("owner_tenant_id", String(36), nullable=False),
    Column("state", String(16), nullable=False),
    Column("command_id", String(36), nullable=False),
    Column("detail", Text, nullable=False),
    Column("start_time", UtcDateTime, nullable=True),
    Column("update_time", UtcDateTime, nullable=False),
    # A desired-state job's: the version the machine has to apply, and by when.
    Column("desired_version", BigInteger, nullable=True),
    Column("expire_time", UtcDateTime, nullable=True),
    # Started through a grant that expires: never after this time.
    Column("not_after", UtcDateTime, nullable=True),
    Index("ix_job_executions_tenant_job_state", "tenant_id", "job_id", "state"),
    Index("ix_job_executions_job_start", "job_id", "start_time"),
    Index("ix_job_executions_state", "state"),
)

# The newest desired version each machine reported applied, from products'
# events: a desired-state execution ends once its machine's version is here.
machine_desired_applied = Table(
    "machine_desired_applied",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("equipment_id", String(36), primary_key=True),
    Column("applied_version", BigInteger, nullable=False),
    Column("detail", Text, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
)

product_families = Table(
    "product_families",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
    # As the tenant gave it.
    Column("definition", Text, nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Index("ux_product_families_tenant_name", "tenant_id", "name", unique=True),
)

# A quote keeps the BOM and routing it selected: accepting it makes exactly those.
quotes = Table(
    "quotes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("family_id", String(36), nullable=False),
    Column("family_revision", BigInteger, nullable=False),
    Column("family_name", String(200), nullable=False),
    Column("plant_id", String(36), nullable=False),
    Column("product_id", String(36), nullable=False),
    Column("selections", JSON, nullable=False),
    Column("derived", JSON, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", Float, nullable=False),
    Column("total_price", Float, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("promised_time", UtcDateTime, nullable=False),
    Column("lead_time_s", Float, nullable=False),
    Column("schedule_explanation", Text, nullable=False),
    # open or accepted; an open one past expire_time reads as expired.
    Column("state", String(16), nullable=False),
    Column("expire_time", UtcDateTime, nullable=False),
    Column("customer_reference", String(200), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("bom", JSON, nullable=False),
    Column("routing", JSON, nullable=False),
    Column("order_id", String(36), nullable=False, server_default=""),
    Index("ix_quotes_tenant_created", "tenant_id", "create_time", "id"),
)

customer_orders = Table(
    "customer_orders",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("quote_id", String(36), nullable=False),
    Column("family_id", String(36), nullable=False),
    Column("family_name", String(200), nullable=False),
    Column("selections", JSON, nullable=False),
    Column("derived", JSON, nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("total_price", Float, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("customer_reference", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    # Every state reached, oldest first: [{"state", "time", "detail"}].
    Column("stages", JSON, nullable=False),
    Column("plant_id", String(36), nullable=False),
    Column("promised_time", UtcDateTime, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    # SHA-256 (hex) of the customer's order key; looked up across tenants.
    Column("key_hash", String(64), nullable=False),
    Column("work_order_id", String(36), nullable=False, server_default=""),
    Index("ix_customer_orders_tenant_created", "tenant_id", "create_time", "id"),
    Index("ix_customer_orders_tenant_state", "tenant_id", "state", "create_time"),
    Index("ux_customer_orders_key_hash", "key_hash", unique=True),
    Index("ux_customer_orders_tenant_quote", "tenant_id", "quote_id", unique=True),
)

outbox = outbox_table(metadata)

# -- Webhooks and e-mail --

# Where a tenant's events go: a webhook URL or an e-mail address, with patterns.
notification_channels = Table(
    "notification_channels",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    # webhook or email
    Column("kind", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("email", String(254), nullable=False),
    Column("event_types", JSON, nullable=False),
    Column("description", Text, nullable=False),
    Column("secret", String(100), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Index("ix_notification_channels_tenant_created", "tenant_id", "create_time", "id"),
)

# One event's delivery to one channel: one row per (channel, event id).
notification_deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("channel_id", String(36), nullable=False),
    Column("event_id", String(120), nullable=False),
    Column("event_type", String(120), nullable=False),
    Column("body", Text, nullable=False),
    # pending, delivered or dead_letter
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_status_code", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("next_attempt_time", UtcDateTime, nullable=True),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Index("ux_notification_deliveries_channel_event", "channel_id", "event_id", unique=True),
    Index(
        "ix_notification_deliveries_tenant_channel_created",
        "tenant_id",
        "channel_id",
        "create_time",
        "id",
    ),
    Index("ix_notification_deliveries_state_due", "state", "next_attempt_time"),
)

# -- alarms --

# What a tenant wants to hear about; the condition's fields by its kind (JSON).
alarm_rules = Table(
    "alarm_rules",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("name", String(200), nullable=False),
    Column("severity", String(16), nullable=False),
    # equipment, equipment_model, station, line or plant
    Column("scope_kind", String(16), nullable=False),
    Column("scope_id", String(36), nullable=False),
    Column("condition", JSON, nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Index("ix_alarm_rules_tenant_created", "tenant_id", "create_time", "id"),
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(36), nullable=False),
    Column("rule_id", String(36), nullable=False),
    Column("rule_name", String(200), nullable=False),
    Column("severity", String(16), nullable=False),
    # active, acknowledged or cleared
    Column("state", String(16), nullable=False),
    Column("equipment_id", String(36), nullable=False),
    Column("detail", Text, nullable=False),
    Column("value", Float, nullable=False),
    Column("raise_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("acknowledge_time", UtcDateTime, nullable=True),
    Column("acknowledged_by", String(200), nullable=False),
    Column("clear_time", UtcDateTime, nullable=True),
    Column("cleared_by", String(200), nullable=False),
    # "<rule id>/<equipment id>" while open, NULL once cleared: the database keeps
    # a rule to one open alarm per machine, whoever raises it.
    Column("open_key", String(80), nullable=True),
    Index("ux_alarms_open_key", "open_key", unique=True),
    Index("ix_alarms_tenant_raised", "tenant_id", "raise_time", "id"),
    Index("ix_alarms_open_on_machine", "tenant_id", "equipment_id", "open_key"),
)

# A rule's memory of one machine (see domain/alarms.py: Watch).
alarm_watches = Table(
    "alarm_watches",
    metadata,
    Column("tenant_id", String(36), primary_key=True),
    Column("rule_id", String(36), primary_key=True),
    Column("equipment_id", String(36), primary_key=True),
    Column("judged_until_ms", BigInteger, nullable=False),
    Column("breach_since_ms", BigInteger, nullable=True),
    Column("last_value", Float, nullable=True),
    Column("due_ms", BigInteger, nullable=True),
    Index("ix_alarm_watches_due", "due_ms"),
)
