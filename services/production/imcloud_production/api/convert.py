"""Domain objects to protobuf messages and back."""

from __future__ import annotations

from imcloud.production.v1 import production_service_pb2 as pb
from imcloud_core.convert import timestamp
from imcloud_production.domain.model import Plant


def plant_message(plant: Plant) -> pb.Plant:
    return pb.Plant(
        id=plant.id,
        name=plant.name,
        location=plant.location,
        time_zone=plant.time_zone,
        create_time=timestamp(plant.create_time),
        update_time=timestamp(plant.update_time),
    )
