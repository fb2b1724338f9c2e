"""Fleet jobs: one command for many machines, rolled out at a rate and aborted
when too many fail (like AWS IoT Jobs).

The gateway resolves the target (a list, a model, a line, a plant, or every
machine granted to a maker) to machines and their owners; servitization keeps
no copy of the equipment. A maker's job over granted machines lives in the
maker's tenant, where only the maker sees it, and each of its commands lives in
the tenant that owns the machine, as a command sent through one grant does:
a customer sees the commands on its own machines, never another customer's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, NoReturn

from fastapi import APIRouter, Query, Request, status

from imcloud.production.v1 import production_service_pb2 as production_pb
from imcloud.products.v1 import products_service_pb2 as products_pb
from imcloud.servitization.v1 import jobs_pb2 as pb
from imcloud_core.convert import from_timestamp, timestamp
from imcloud_core.errors import FieldViolation, InvalidArgument, NotFound
from imcloud_core.paging import MAX_PAGE_SIZE, every_page
from imcloud_core.rpc import CallContext
from imcloud_gateway.api.http.context import HttpContext
from imcloud_gateway.api.http.deps import (
    GatewayDep,
    GrantedAccess,
    GrantedDep,
    OperatorCall,
    PageSize,
    PageToken,
    ViewerCall,
)
from imcloud_gateway.api.http.errors import error_responses, request_id
from imcloud_gateway.api.http.routes.health_monitoring import stations_of
from imcloud_gateway.api.http.schemas.common import Page
from imcloud_gateway.api.http.schemas.jobs import (
    MAX_MACHINES,
    AbortCriteriaRequest,
    CreateGrantedJobRequest,
    CreateJobRequest,
    DesiredChangeResponse,
    JobCommandResponse,
    JobExecutionResponse,
    JobResponse,
    JobSummaryResponse,
    JobTargetRequest,
    JobTargetResponse,
    RolloutRequest,
)
from imcloud_gateway.domain import grants
from imcloud_gateway.domain.model import AccessGrant, Principal, Scope

router = APIRouter(tags=["servitization"])

JOB_STATES = {
    pb.JOB_STATE_IN_PROGRESS: "in_progress",
    pb.JOB_STATE_COMPLETED: "completed",
    pb.JOB_STATE_ABORTED: "aborted",
    pb.JOB_STATE_CANCELLED: "cancelled",
}
EXECUTION_STATES = {
    pb.EXECUTION_STATE_QUEUED: "queued",
    pb.EXECUTION_STATE_PENDING: "pending",
    pb.EXECUTION_STATE_DELIVERED: "delivered",
    pb.EXECUTION_STATE_SUCCEEDED: "succeeded",
    pb.EXECUTION_STATE_FAILED: "failed",
    pb.EXECUTION_STATE_REJECTED: "rejected",
    pb.EXECUTION_STATE_EXPIRED: "expired",
    pb.EXECUTION_STATE_CANCELLED: "cancelled",
}
EXECUTION_STATES_BY_NAME = {name: state for state, name in EXECUTION_STATES.items()}
TARGET_KINDS = {
    "equipment": "equipment",
    "equipment_model_id": "equipment_model",
    "line_id": "line",
    "plant_id": "plant",
    "granted_machines": "granted_machines",
}
# Machines named in an error, at most; the count says how many more.
NAMED_IN_ERRORS = 20

ExecutionStates = Annotated[
    list[str],
    Query(
        alias="state",
        description="Only executions in these states (repeat for several)",
        json_schema_extra={"items": {"enum": list(EXECUTION_STATES.values()), "type": "string"}},
    ),
]


def job_body(job: pb.FleetJob) -> JobResponse:
    target_field = job.target.WhichOneof("kind") or "equipment"
    target_id = getattr(job.target, target_field)
    return JobResponse(
        id=job.id,
        target=JobTargetResponse(
            kind=TARGET_KINDS[target_field],
            id=target_id if isinstance(target_id, str) else "",
        ),
        command=(
            JobCommandResponse(
                name=job.command.name,
                parameters=json.loads(job.command.parameters_json or "{}"),
                timeout_s=job.command.timeout_s,
            )
            if job.HasField("command")
            else None
        ),
        desired_change=(
            DesiredChangeResponse(
                desired=json.loads(job.desired_change.desired_json),
                timeout_s=job.desired_change.timeout_s,
            )
            if job.HasField("desired_change")
            else None
        ),
        rollout=RolloutRequest(machines_per_minute=job.rollout.machines_per_minute),
        abort_criteria=AbortCriteriaRequest(
            failed_percent=job.abort_criteria.failed_percent,
            min_ended=job.abort_criteria.min_ended,
        ),
        state=JOB_STATES[job.state],
        machine_count=job.machine_count,
        summary=JobSummaryResponse(
            queued=job.summary.queued,
            pending=job.summary.pending,
            delivered=job.summary.delivered,
            succeeded=job.summary.succeeded,
            failed=job.summary.failed,
            rejected=job.summary.rejected,
            expired=job.summary.expired,
            cancelled=job.summary.cancelled,
        ),
        detail=job.detail,
        requested_by=job.requested_by,
        create_time=from_timestamp(job.create_time),
        update_time=from_timestamp(job.update_time),
        end_time=from_timestamp(job.end_time) if job.HasField("end_time") else None,
    )


def execution_body(execution: pb.JobExecution) -> JobExecutionResponse:
    return JobExecutionResponse(
        job_id=execution.job_id,
        equipment_id=execution.equipment_id,
        state=EXECUTION_STATES[execution.state],
        command_id=execution.command_id,
        desired_version=execution.desired_version,
        detail=execution.detail,
        start_time=(
            from_timestamp(execution.start_time) if execution.HasField("start_time") else None
        ),
        update_time=from_timestamp(execution.update_time),
    )


def _invalid_target(field: str, reason: str) -> InvalidArgument:
    return InvalidArgument(
        "the job is not valid", violations=(FieldViolation(f"target.{field}", reason),)
    )


def _unknown(field: str, missing: list[str]) -> InvalidArgument:
    named = ", ".join(missing[:NAMED_IN_ERRORS])
    more = len(missing) - NAMED_IN_ERRORS
    return _invalid_target(
        field, f"no such equipment: {named}" + (f" and {more} more" if more > 0 else "")
    )


def _named(field: str, equipment_ids: list[str], known: set[str]) -> list[str]:
    """The named machines, each once, if every one is known."""
    wanted = list(dict.fromkeys(equipment_ids))
    missing = [e for e in wanted if e not in known]
    if missing:
        raise _unknown(field, missing)
    return wanted


def _equipment(
    gateway: HttpContext, ctx: CallContext, *, equipment_model_id: str = ""
) -> list[products_pb.Equipment]:
    def page(token: str) -> tuple[list[products_pb.Equipment], str]:
        response = gateway.call(
            gateway.backends.products.ListEquipment,
            products_pb.ListEquipmentRequest(
                equipment_model_id=equipment_model_id,
                page_size=MAX_PAGE_SIZE,
                page_token=token,
            ),
            ctx,
        )
        return list(response.equipment), response.next_page_token

    return every_page(page)


def _none_at(field: str, exists: Callable[[], object]) -> NoReturn:
    """No machine: a 422 that says whether the model, line or plant exists at all."""
    try:
        exists()
    except NotFound:
        raise _invalid_target(field, "does not exist") from None
    raise _invalid_target(field, "has no machines")


def _at_stations(
    gateway: HttpContext,
    ctx: CallContext,
    field: str,
    stations: set[str],
    exists: Callable[[], object],
) -> list[str]:
    found = [e.id for e in _equipment(gateway, ctx) if e.station_id in stations] if stations else []
    return found or _none_at(field, exists)


def _own_machines(gateway: HttpContext, ctx: CallContext, target: JobTargetRequest) -> list[str]:
    """The caller's machines the target names; another tenant's look unknown."""
    if target.equipment_ids is not None:
        owned = {e.id for e in _equipment(gateway, ctx)}
        return _named("equipment_ids", target.equipment_ids, owned)
    backends = gateway.backends
    if target.equipment_model_id is not None:
        model_id = target.equipment_model_id
        found = [e.id for e in _equipment(gateway, ctx, equipment_model_id=model_id)]
        return found or _none_at(
            "equipment_model_id",
            lambda: gateway.call(
                backends.products.GetEquipmentModel,
                products_pb.GetEquipmentModelRequest(equipment_model_id=model_id),
                ctx,
            ),
        )
    if target.line_id is not None:
        line_id = target.line_id
        return _at_stations(
            gateway,
            ctx,
            "line_id",
            set(stations_of(gateway, ctx, line_id=line_id)),
            lambda: gateway.call(
                backends.production.GetLine, production_pb.GetLineRequest(line_id=line_id), ctx
            ),
        )
    plant_id = target.plant_id or ""
    return _at_stations(
        gateway,
        ctx,
        "plant_id",
        set(stations_of(gateway, ctx, plant_id=plant_id)),
        lambda: gateway.call(
            backends.production.GetPlant, production_pb.GetPlantRequest(plant_id=plant_id), ctx
        ),
    )


def _target_message(target: JobTargetRequest) -> tuple[str, pb.JobTarget]:
    """The field that names the target, and the target for display."""
    message = pb.JobTarget()
    if target.equipment_ids is not None:
        message.equipment.SetInParent()
        return "equipment_ids", message
    if target.equipment_model_id is not None:
        message.equipment_model_id = target.equipment_model_id
        return "equipment_model_id", message
    if target.line_id is not None:
        message.line_id = target.line_id
        return "line_id", message
    message.plant_id = target.plant_id or ""
    return "plant_id", message


@dataclass(frozen=True)
class GrantedMachine:
    owner_tenant_id: str
    # The latest expiry of the grants that allow it; None: one never expires.
    expire_time: datetime | None


def _granted_machines(granted: GrantedAccess, scope: Scope) -> dict[str, GrantedMachine]:
    """Every machine the maker holds an active grant on with ``scope``."""

    def page(token: str) -> tuple[list[AccessGrant], str]:
        found, next_token = grants.list_received_grants(
            granted.gateway.unit_of_work(),
            principal=granted.principal,
            requested_page_size=MAX_PAGE_SIZE,
            page_token=token,
        )
        return [g for g in found if scope in g.scopes], next_token

    machines: dict[str, GrantedMachine] = {}
    for grant in every_page(page):
        lasts = grant.expire_time
        known = machines.get(grant.equipment_id)
        if known is not None:
            # Another grant on the machine: the one lasting longer counts.
            lasts = (
                None
                if lasts is None or known.expire_time is None
                else max(lasts, known.expire_time)
            )
        machines[grant.equipment_id] = GrantedMachine(grant.tenant_id, lasts)
    return machines


def stop_jobs_of_ended_grant(
    gateway: HttpContext, request: Request, principal: Principal, grant: AccessGrant
) -> None:
    """After a grant ended: the maker's jobs never start the machine for what the
    maker's remaining grants on it no longer allow."""
    left = grants.scopes_left(
        gateway.unit_of_work(),
        grantee_tenant_id=grant.grantee_tenant_id,
        equipment_id=grant.equipment_id,
    )
    commands = Scope.COMMANDS_SEND not in left
    desired_changes = Scope.CONFIG_WRITE not in left
    if not (commands or desired_changes):
        return
    gateway.call(
        gateway.backends.servitization.StopGrantedExecutions,
        pb.StopGrantedExecutionsRequest(
            equipment_id=grant.equipment_id,
            maker_tenant_id=grant.grantee_tenant_id,
            commands=commands,
            desired_changes=desired_changes,
        ),
        CallContext(
            tenant_id=grant.tenant_id, actor=principal.actor, request_id=request_id(request)
        ),
    )


def _create(
    gateway: HttpContext,
    ctx: CallContext,
    body: CreateJobRequest | CreateGrantedJobRequest,
    target: tuple[str, pb.JobTarget],
    machines: list[pb.JobMachine],
    *,
    through_grants: bool,
) -> JobResponse:
    field, message = target
    if len(machines) > MAX_MACHINES:
        raise _invalid_target(
            field, f"covers {len(machines)} machines; a job takes at most {MAX_MACHINES}"
        )
    request = pb.CreateJobRequest(
        target=message,
        machines=machines,
        rollout=pb.JobRollout(machines_per_minute=body.rollout.machines_per_minute),
        abort_criteria=pb.JobAbortCriteria(
            failed_percent=body.abort_criteria.failed_percent,
            min_ended=body.abort_criteria.min_ended,
        ),
        through_grants=through_grants,
    )
    if body.desired_change is not None:
        request.desired_change.CopyFrom(
            pb.JobDesiredChange(
                desired_json=json.dumps(body.desired_change.desired),
                timeout_s=body.desired_change.timeout_s,
            )
        )
    elif body.command is not None:
        request.command.CopyFrom(
            pb.JobCommand(
                name=body.command.name,
                parameters_json=json.dumps(body.command.parameters),
                timeout_s=body.command.timeout_s,
            )
        )
    response = gateway.call(gateway.backends.servitization.CreateJob, request, ctx)
    return job_body(response.job)


def _get(
    gateway: HttpContext, ctx: CallContext, job_id: str, *, through_grants: bool
) -> JobResponse:
    response = gateway.call(
        gateway.backends.servitization.GetJob,
        pb.GetJobRequest(job_id=job_id, through_grants=through_grants),
        ctx,
    )
    return job_body(response.job)


def _list(
    gateway: HttpContext, ctx: CallContext, page_size: int, page_token: str, *, through_grants: bool
) -> Page[JobResponse]:
    response = gateway.call(
        gateway.backends.servitization.ListJobs,
        pb.ListJobsRequest(
            page_size=page_size, page_token=page_token, through_grants=through_grants
        ),
        ctx,
    )
    return Page(
        items=[job_body(j) for j in response.jobs], next_page_token=response.next_page_token
    )


def _executions(
    gateway: HttpContext,
    ctx: CallContext,
    job_id: str,
    states: list[str],
    page_size: int,
    page_token: str,
    *,
    through_grants: bool,
) -> Page[JobExecutionResponse]:
    unknown = [s for s in states if s not in EXECUTION_STATES_BY_NAME]
    if unknown:
        raise InvalidArgument(
            "the state filter is not valid",
            violations=(
                FieldViolation(
                    "state",
                    f"unknown {', '.join(unknown)}; one of {', '.join(EXECUTION_STATES_BY_NAME)}",
                ),
            ),
        )
    response = gateway.call(
        gateway.backends.servitization.ListJobExecutions,
        pb.ListJobExecutionsRequest(
            job_id=job_id,
            through_grants=through_grants,
            states=[EXECUTION_STATES_BY_NAME[s] for s in states],
            page_size=page_size,
            page_token=page_token,
        ),
        ctx,
    )
    return Page(
        items=[execution_body(e) for e in response.executions],
        next_page_token=response.next_page_token,
    )


def _cancel(
    gateway: HttpContext, ctx: CallContext, job_id: str, *, through_grants: bool
) -> JobResponse:
    response = gateway.call(
        gateway.backends.servitization.CancelJob,
        pb.CancelJobRequest(job_id=job_id, through_grants=through_grants),
        ctx,
    )
    return job_body(response.job)


def _granted_machine(equipment_id: str, machine: GrantedMachine) -> pb.JobMachine:
    message = pb.JobMachine(equipment_id=equipment_id, owner_tenant_id=machine.owner_tenant_id)
    if machine.expire_time is not None:
        message.grant_expire_time.CopyFrom(timestamp(machine.expire_time))
    return message


def _maker_context(granted: GrantedAccess) -> CallContext:
    """The maker acting in its own tenant, where its jobs live."""
    principal = granted.principal
    return CallContext(
        tenant_id=principal.tenant_id,
        actor=f"{principal.actor}@{principal.tenant_id}",
        request_id=request_id(granted.request),
    )


CREATE_DESCRIPTION = (
    "Either a command or a desired-state change (a JSON merge patch; a machine's execution "
    "succeeds when it reports the new desired version applied). "
    "The machines are resolved now (a line or model that changes later does not change "
    "the job). Each machine's execution is queued, then started at most "
    "rollout.machines_per_minute a minute as a command, and follows it to its end. When "
    "abort_criteria.failed_percent of the ended executions failed, were rejected or expired "
    "(once at least abort_criteria.min_ended ended), the job aborts: the queued machines "
    "are never sent the command and the waiting commands are cancelled."
)


@router.post(
    "/v1/jobs",
    status_code=status.HTTP_201_CREATED,
    summary="Start a fleet job: one command for many machines",
    description=CREATE_DESCRIPTION,
    responses=error_responses(401, 403, 422, 429, 503),
)
def create_job(body: CreateJobRequest, ctx: OperatorCall, gateway: GatewayDep) -> JobResponse:
    machines = _own_machines(gateway, ctx, body.target)
    return _create(
        gateway,
        ctx,
        body,
        _target_message(body.target),
        [pb.JobMachine(equipment_id=e, owner_tenant_id=ctx.tenant_id) for e in machines],
        through_grants=False,
    )


@router.get(
    "/v1/jobs",
    summary="The tenant's fleet jobs, newest first",
    responses=error_responses(401, 403, 422, 429, 503),
)
def list_jobs(
    ctx: ViewerCall, gateway: GatewayDep, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[JobResponse]:
    return _list(gateway, ctx, page_size, page_token, through_grants=False)


@router.get(
    "/v1/jobs/{job_id}",
    summary="A fleet job with its live summary",
    responses=error_responses(401, 403, 404, 429, 503),
)
def get_job(job_id: str, ctx: ViewerCall, gateway: GatewayDep) -> JobResponse:
    return _get(gateway, ctx, job_id, through_grants=False)


@router.get(
    "/v1/jobs/{job_id}/executions",
    summary="Where each machine of a fleet job stands, in rollout order",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def list_job_executions(
    job_id: str,
    ctx: ViewerCall,
    gateway: GatewayDep,
    state: ExecutionStates = [],  # noqa: B006 - FastAPI copies query defaults
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[JobExecutionResponse]:
    return _executions(gateway, ctx, job_id, state, page_size, page_token, through_grants=False)


@router.post(
    "/v1/jobs/{job_id}:cancel",
    summary="Cancel a fleet job",
    description="No machine is started any more and the commands still waiting are "
    "cancelled. Cancelling a cancelled job again changes nothing; a completed or aborted "
    "job cannot be cancelled (409).",
    responses=error_responses(401, 403, 404, 409, 429, 503),
)
def cancel_job(job_id: str, ctx: OperatorCall, gateway: GatewayDep) -> JobResponse:
    return _cancel(gateway, ctx, job_id, through_grants=False)


@router.post(
    "/v1/granted-jobs",
    status_code=status.HTTP_201_CREATED,
    summary="(Equipment makers) start a fleet job over granted machines",
    description=CREATE_DESCRIPTION
    + " Only machines granted to you with commands:send (config:write for a desired-state "
    "change), possibly of several customers; "
    "the job is yours alone, each command is seen by the customer owning the machine.",
    responses=error_responses(401, 403, 422, 429, 503),
)
def create_granted_job(
    body: CreateGrantedJobRequest, granted: GrantedDep, gateway: GatewayDep
) -> JobResponse:
    # Changing desired states takes config:write, as on one machine.
    scope = Scope.COMMANDS_SEND if body.desired_change is None else Scope.CONFIG_WRITE
    owners = _granted_machines(granted, scope)
    if body.target.equipment_ids is not None:
        field, machines = (
            "equipment_ids",
            _named("equipment_ids", body.target.equipment_ids, set(owners)),
        )
        message = pb.JobTarget(equipment=pb.EquipmentList())
    else:
        field, machines = "granted_machines", list(owners)
        message = pb.JobTarget(granted_machines=True)
        if not machines:
            raise _invalid_target(field, f"no machine is granted to you with {scope.value}")
    return _create(
        gateway,
        _maker_context(granted),
        body,
        (field, message),
        [_granted_machine(e, owners[e]) for e in machines],
        through_grants=True,
    )


@router.get(
    "/v1/granted-jobs",
    summary="(Equipment makers) your fleet jobs over granted machines, newest first",
    responses=error_responses(401, 403, 422, 429, 503),
)
def list_granted_jobs(
    granted: GrantedDep, gateway: GatewayDep, page_size: PageSize = 50, page_token: PageToken = ""
) -> Page[JobResponse]:
    return _list(gateway, _maker_context(granted), page_size, page_token, through_grants=True)


@router.get(
    "/v1/granted-jobs/{job_id}",
    summary="(Equipment makers) one of your fleet jobs with its live summary",
    responses=error_responses(401, 403, 404, 429, 503),
)
def get_granted_job(job_id: str, granted: GrantedDep, gateway: GatewayDep) -> JobResponse:
    return _get(gateway, _maker_context(granted), job_id, through_grants=True)


@router.get(
    "/v1/granted-jobs/{job_id}/executions",
    summary="(Equipment makers) where each machine of your fleet job stands",
    responses=error_responses(401, 403, 404, 422, 429, 503),
)
def list_granted_job_executions(
    job_id: str,
    granted: GrantedDep,
    gateway: GatewayDep,
    state: ExecutionStates = [],  # noqa: B006 - FastAPI copies query defaults
    page_size: PageSize = 50,
    page_token: PageToken = "",
) -> Page[JobExecutionResponse]:
    return _executions(
        gateway, _maker_context(granted), job_id, state, page_size, page_token, through_grants=True
    )


@router.post(
    "/v1/granted-jobs/{job_id}:cancel",
    summary="(Equipment makers) cancel one of your fleet jobs",
    responses=error_responses(401, 403, 404, 409, 429, 503),
)
def cancel_granted_job(job_id: str, granted: GrantedDep, gateway: GatewayDep) -> JobResponse:
    return _cancel(gateway, _maker_context(granted), job_id, through_grants=True)
