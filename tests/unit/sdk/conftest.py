from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from imcloud_device import DeviceClient
from tests.unit.sdk.fake_link import GOOD_CREDENTIAL, FakeDeviceLink, FakeServer

MakeClient = Callable[..., DeviceClient]


@pytest.fixture
def link() -> FakeDeviceLink:
    return FakeDeviceLink()


@pytest.fixture
def server(link: FakeDeviceLink) -> Iterator[FakeServer]:
    running = FakeServer(link).start()
    yield running
    running.stop()


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    """Clients with test-friendly timings, closed after the test."""
    clients: list[DeviceClient] = []

    def make(target: str, credential: str = GOOD_CREDENTIAL, **options: Any) -> DeviceClient:
        options.setdefault("flush_interval_s", 0.02)
        options.setdefault("reconnect_backoff_s", (0.02, 0.2))
        client = DeviceClient(target, credential, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close(0)
