"""The SDK and the simulator against the real platform (`imcloud up` in a subprocess)."""

from __future__ import annotations

from tests.e2e.conftest import embedded_platform  # noqa: F401 - the fixture, shared
