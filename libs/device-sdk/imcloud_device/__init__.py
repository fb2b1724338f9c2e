"""imcloud device SDK: stream a machine's telemetry to imcloud and answer its commands.

    from imcloud_device import DeviceClient

    with DeviceClient("platform.example.com:50050", "imd_...") as client:
        client.record("spindle_speed", 1200.0)

See libs/device-sdk/README.md for a complete example.
"""

from imcloud_device.client import VERSION, DeviceClient, ErrorHandler
from imcloud_device.commands import Command, CommandHandler, CommandOutcome
from imcloud_device.desired import DesiredHandler, DesiredState
from imcloud_device.errors import AuthenticationError, ConnectionLostError, DeviceLinkError
from imcloud_device.stats import DeviceStats, Refusal

__version__ = VERSION

__all__ = [
    "AuthenticationError",
    "Command",
    "CommandHandler",
    "CommandOutcome",
    "ConnectionLostError",
    "DesiredHandler",
    "DesiredState",
    "DeviceClient",
    "DeviceLinkError",
    "DeviceStats",
    "ErrorHandler",
    "Refusal",
    "__version__",
]
