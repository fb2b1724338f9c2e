from imcloud_core.migrations import run_migrations_online
from imcloud_production.store.tables import metadata

run_migrations_online(metadata)
