"""Domain objects to protobuf messages and back."""

from __future__ import annotations

from imcloud.production.v1 import production_service_pb2 as pb
from imcloud_core.convert import timestamp
from imcloud_production.domain.model import Line, Plant, Resource, Station


def plant_message(plant: Plant) -> pb.Plant:
    return pb.Plant(
        id=plant.id,
        name=plant.name,
        location=plant.location,
        time_zone=plant.time_zone,
        create_time=timestamp(plant.create_time),
        update_time=timestamp(plant.update_time),
    )


def line_message(line: Line) -> pb.Line:
    return pb.Line(
        id=line.id,
        plant_id=line.plant_id,
        name=line.name,
        description=line.description,
        create_time=timestamp(line.create_time),
        update_time=timestamp(line.update_time),
    )


def station_message(station: Station) -> pb.Station:
    return pb.Station(
        id=station.id,
        line_id=station.line_id,
        plant_id=station.plant_id,
        name=station.name,
        description=station.description,
        create_time=timestamp(station.create_time),
        update_time=timestamp(station.update_time),
    )


def resource_message(resource: Resource) -> pb.Plant | pb.Line | pb.Station:
    match resource:
        case Plant():
            return plant_message(resource)
        case Line():
            return line_message(resource)
        case Station():
            return station_message(resource)
