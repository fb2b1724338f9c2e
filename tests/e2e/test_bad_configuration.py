"""Wrong settings stop the process at once with a message naming the setting."""

from __future__ import annotations

import time

from tests.support.platform import run_imcloud
from tests.support.ports import free_port


def assert_refused(result_args: tuple[str, ...], env: dict[str, str], setting: str) -> str:
    started = time.monotonic()
    result = run_imcloud(*result_args, env=env, timeout_s=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert setting in result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 30, f"took {elapsed:.0f} s to give up"
    return result.stderr


def test_unreachable_kafka_names_the_bootstrap_setting() -> None:
    closed_port = free_port()
    env = {
        "IMCLOUD_BUS": "kafka",
        "IMCLOUD_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port}",
        "IMCLOUD_KAFKA__CONNECT_TIMEOUT_S": "3",
        "IMCLOUD_GATEWAY__JWT_SECRET": "a-real-secret-for-this-test-0123456789",
    }
    message = assert_refused(("serve", "products"), env, "IMCLOUD_KAFKA__BOOTSTRAP_SERVERS")
    assert f"127.0.0.1:{closed_port}" in message


def test_unreachable_database_names_the_database_setting() -> None:
    closed_port = free_port()
    env = {"IMCLOUD_DATABASE_URL": f"postgresql+psycopg://imcloud:x@127.0.0.1:{closed_port}/db"}
    message = assert_refused(("migrate",), env, "IMCLOUD_DATABASE_URL")
    assert "x@" not in message, "the password leaked into the message"


def test_a_malformed_database_url_names_the_setting() -> None:
    assert_refused(("migrate",), {"IMCLOUD_DATABASE_URL": "not a url"}, "IMCLOUD_DATABASE_URL")


def test_a_malformed_value_names_the_variable() -> None:
    assert_refused(("up",), {"IMCLOUD_GATEWAY__HTTP_PORT": "eighty"}, "IMCLOUD_GATEWAY__HTTP_PORT")


def test_serve_refuses_the_in_process_bus() -> None:
    assert_refused(("serve", "gateway"), {"IMCLOUD_BUS": "memory"}, "IMCLOUD_BUS")


def test_serve_refuses_to_run_the_gateway_without_a_secret() -> None:
    env = {"IMCLOUD_BUS": "kafka"}
    assert_refused(("serve", "gateway"), env, "IMCLOUD_GATEWAY__JWT_SECRET")


def test_serve_refuses_a_short_secret() -> None:
    env = {"IMCLOUD_BUS": "kafka", "IMCLOUD_GATEWAY__JWT_SECRET": "short"}
    assert_refused(("serve", "gateway"), env, "IMCLOUD_GATEWAY__JWT_SECRET")
