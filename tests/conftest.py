"""Fixtures for the real infrastructure the integration and e2e tests use, and the
platforms they drive: started once per test session, as a user would.

`make test` starts PostgreSQL and Kafka with the infra/ scripts first. A test that
needs one of them and cannot reach it fails, naming the command that starts it:
a skipped test would hide a broken setup.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.platform import RAISED_RATE_LIMITS, RunningPlatform, distributed, embedded

REPO = Path(__file__).resolve().parents[1]
# A few SKAB files ship with the tests (tests/data/README.md); the complete
# datasets for `make eval` sit beside the repository.
DATASETS = REPO / "tests" / "data"
KAFKA_BOOTSTRAP = os.environ.get("IMCLOUD_TEST_KAFKA", "127.0.0.1:9092")
KUBECONFIG = Path(os.environ.get("IMCLOUD_TEST_KUBECONFIG", str(REPO / ".infra/kube/kubeconfig")))
POSTGRES_URL = os.environ.get(
    "IMCLOUD_TEST_POSTGRES", "postgresql+psycopg://imcloud:imcloud@127.0.0.1:5432/postgres"
)


def _reachable(address: str) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    if not _reachable(KAFKA_BOOTSTRAP.split(",")[0]):
        pytest.fail(f"no Kafka broker at {KAFKA_BOOTSTRAP}: run 'make infra-up'", pytrace=False)
    return KAFKA_BOOTSTRAP


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    url = make_url(POSTGRES_URL)
    if not _reachable(f"{url.host}:{url.port or 5432}"):
        pytest.fail(f"no PostgreSQL at {url.host}:{url.port}: run 'make infra-up'", pytrace=False)
    return POSTGRES_URL


class FreshDatabases:
    """Creates empty PostgreSQL databases for a test and drops them afterwards."""

    def __init__(self, admin_url: str) -> None:
        self._admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        self._created: list[str] = []

    def create(self, prefix: str = "test") -> str:
        name = f"imcloud_{prefix}_{uuid.uuid4().hex[:10]}"
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self._admin.connect() as connection:
            for name in self._created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture
def fresh_postgres(postgres_admin_url: str) -> Iterator[FreshDatabases]:
    databases = FreshDatabases(postgres_admin_url)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def session_postgres(postgres_admin_url: str) -> Iterator[FreshDatabases]:
    databases = FreshDatabases(postgres_admin_url)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    return DATASETS


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    """The local kube-apiserver started by infra/kube.sh (real, not a mock)."""
    if not KUBECONFIG.exists() or not _reachable("127.0.0.1:6443"):
        pytest.fail("no kube-apiserver on 127.0.0.1:6443: run 'make kube-up'", pytrace=False)
    return str(KUBECONFIG)


@pytest.fixture(scope="session")
def distributed_platform(
    kafka_bootstrap: str, session_postgres: FreshDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningPlatform]:
    """One process per service on real PostgreSQL and Kafka (`imcloud serve`)."""
    logs = tmp_path_factory.mktemp("distributed")
    with distributed(kafka_bootstrap, session_postgres.create, logs) as platform:
        yield platform


@pytest.fixture(scope="session")
def embedded_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """The whole platform in one process (`imcloud up`), no outside servers."""
    # The fuzzer sends thousands of requests.
    with embedded(tmp_path_factory.mktemp("embedded"), **RAISED_RATE_LIMITS) as platform:
        yield platform
