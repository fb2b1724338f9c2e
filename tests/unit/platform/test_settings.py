from __future__ import annotations

import pytest

from imcloud_core.settings import BusBackend
from imcloud_platform.settings import Settings


def test_defaults_are_the_embedded_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("IMCLOUD_"):
            monkeypatch.delenv(name)
    settings = Settings()
    assert settings.bus is BusBackend.MEMORY
    assert settings.database_url_for("products") == "sqlite:///.imcloud/products.db"
    assert settings.gateway.http_host == "127.0.0.1"
    assert settings.gateway.http_port == 8080


def test_environment_selects_distributed_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMCLOUD_BUS", "kafka")
    monkeypatch.setenv("IMCLOUD_KAFKA__BOOTSTRAP_SERVERS", "kafka-0:9092,kafka-1:9092")
    monkeypatch.setenv("IMCLOUD_DATABASE_URL", "postgresql+psycopg://u:p@db/imcloud_{service}")
    monkeypatch.setenv("IMCLOUD_DATABASE_URLS__GATEWAY", "postgresql+psycopg://u:p@gw-db/gw")
    settings = Settings()
    assert settings.bus is BusBackend.KAFKA
    assert settings.kafka.bootstrap_servers == "kafka-0:9092,kafka-1:9092"
    assert (
        settings.database_url_for("production") == "postgresql+psycopg://u:p@db/imcloud_production"
    )
    assert settings.database_url_for("gateway") == "postgresql+psycopg://u:p@gw-db/gw"
