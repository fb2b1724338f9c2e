"""The ServitizationService RPCs of fleet jobs. Translate, delegate, translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from imcloud.servitization.v1 import jobs_pb2 as pb
from imcloud_core.convert import from_timestamp
from imcloud_core.rpc import call_context
from imcloud_servitization.convert import (
    EXECUTION_STATES_BY_MESSAGE,
    execution_message,
    job_action,
    job_message,
    job_target,
)
from imcloud_servitization.domain import jobs
from imcloud_servitization.domain.ports import UnitOfWork


class JobRpcs:
    _uow: Callable[[], UnitOfWork]

    def CreateJob(  # noqa: N802 - gRPC method names are PascalCase
        self, request: pb.CreateJobRequest, context: grpc.ServicerContext
    ) -> pb.CreateJobResponse:
        caller = call_context(context)
        job = jobs.create_job(
            self._uow(),
            tenant_id=caller.tenant_id,
            target=job_target(request.target),
            machines=[
                jobs.JobMachine(
                    m.equipment_id,
                    m.owner_tenant_id,
                    from_timestamp(m.grant_expire_time)
                    if m.HasField("grant_expire_time")
                    else None,
                )
                for m in request.machines
            ],
            action=job_action(request),
            machines_per_minute=request.rollout.machines_per_minute,
            failed_percent=request.abort_criteria.failed_percent,
            min_ended=request.abort_criteria.min_ended,
            through_grants=request.through_grants,
            requested_by=caller.actor,
        )
        return pb.CreateJobResponse(job=job_message(job))

    def GetJob(  # noqa: N802
        self, request: pb.GetJobRequest, context: grpc.ServicerContext
    ) -> pb.GetJobResponse:
        job = jobs.get_job(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            job_id=request.job_id,
            through_grants=request.through_grants,
        )
        return pb.GetJobResponse(job=job_message(job))

    def ListJobs(  # noqa: N802
        self, request: pb.ListJobsRequest, context: grpc.ServicerContext
    ) -> pb.ListJobsResponse:
        found, token = jobs.list_jobs(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            through_grants=request.through_grants,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListJobsResponse(jobs=[job_message(j) for j in found], next_page_token=token)

    def CancelJob(  # noqa: N802
        self, request: pb.CancelJobRequest, context: grpc.ServicerContext
    ) -> pb.CancelJobResponse:
        caller = call_context(context)
        job = jobs.cancel_job(
            self._uow(),
            tenant_id=caller.tenant_id,
            job_id=request.job_id,
            through_grants=request.through_grants,
            cancelled_by=caller.actor,
        )
        return pb.CancelJobResponse(job=job_message(job))

    def ListJobExecutions(  # noqa: N802
        self, request: pb.ListJobExecutionsRequest, context: grpc.ServicerContext
    ) -> pb.ListJobExecutionsResponse:
        found, token = jobs.list_executions(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            job_id=request.job_id,
            through_grants=request.through_grants,
            states=[
                EXECUTION_STATES_BY_MESSAGE[s]
                for s in request.states
                if s in EXECUTION_STATES_BY_MESSAGE
            ],
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListJobExecutionsResponse(
            executions=[execution_message(e) for e in found], next_page_token=token
        )

    def StopGrantedExecutions(  # noqa: N802
        self, request: pb.StopGrantedExecutionsRequest, context: grpc.ServicerContext
    ) -> pb.StopGrantedExecutionsResponse:
        stopped = jobs.stop_granted_executions(
            self._uow(),
            owner_tenant_id=call_context(context).tenant_id,
            equipment_id=request.equipment_id,
            maker_tenant_id=request.maker_tenant_id,
            commands=request.commands,
            desired_changes=request.desired_changes,
        )
        return pb.StopGrantedExecutionsResponse(stopped=stopped)
