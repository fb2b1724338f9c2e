"""The ServitizationService RPCs of alarm rules and alarms. Translate, delegate,
translate back."""

from __future__ import annotations

from collections.abc import Callable

import grpc

from imcloud.servitization.v1 import alarms_pb2 as pb
from imcloud_core.rpc import call_context
from imcloud_servitization.convert import (
    ALARM_SEVERITIES,
    ALARM_STATES,
    alarm_message,
    alarm_rule,
    alarm_rule_message,
)
from imcloud_servitization.domain import alarms
from imcloud_servitization.domain.ports import UnitOfWork
from imcloud_servitization.metrics import count_alarms


class AlarmRpcs:
    _uow: Callable[[], UnitOfWork]

    def CreateAlarmRule(  # noqa: N802 - gRPC method names are PascalCase
        self, request: pb.CreateAlarmRuleRequest, context: grpc.ServicerContext
    ) -> pb.CreateAlarmRuleResponse:
        rule = alarm_rule(request.rule, call_context(context).tenant_id)
        return pb.CreateAlarmRuleResponse(
            rule=alarm_rule_message(alarms.create_rule(self._uow(), rule))
        )

    def GetAlarmRule(  # noqa: N802
        self, request: pb.GetAlarmRuleRequest, context: grpc.ServicerContext
    ) -> pb.GetAlarmRuleResponse:
        rule = alarms.get_rule(
            self._uow(), tenant_id=call_context(context).tenant_id, rule_id=request.rule_id
        )
        return pb.GetAlarmRuleResponse(rule=alarm_rule_message(rule))

    def ListAlarmRules(  # noqa: N802
        self, request: pb.ListAlarmRulesRequest, context: grpc.ServicerContext
    ) -> pb.ListAlarmRulesResponse:
        rules, token = alarms.list_rules(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListAlarmRulesResponse(
            rules=[alarm_rule_message(r) for r in rules], next_page_token=token
        )

    def DeleteAlarmRule(  # noqa: N802
        self, request: pb.DeleteAlarmRuleRequest, context: grpc.ServicerContext
    ) -> pb.DeleteAlarmRuleResponse:
        caller = call_context(context)
        alarms.delete_rule(
            self._uow(), tenant_id=caller.tenant_id, rule_id=request.rule_id, actor=caller.actor
        )
        return pb.DeleteAlarmRuleResponse()

    def ListAlarms(  # noqa: N802
        self, request: pb.ListAlarmsRequest, context: grpc.ServicerContext
    ) -> pb.ListAlarmsResponse:
        found, token = alarms.list_alarms(
            self._uow(),
            tenant_id=call_context(context).tenant_id,
            where=alarms.AlarmFilter(
                state=ALARM_STATES.get(request.state),
                open_only=request.open_only,
                equipment_id=request.equipment_id,
                rule_id=request.rule_id,
                min_severity=ALARM_SEVERITIES.get(request.min_severity),
            ),
            requested_page_size=request.page_size,
            page_token=request.page_token,
        )
        return pb.ListAlarmsResponse(
            alarms=[alarm_message(a) for a in found], next_page_token=token
        )

    def GetAlarm(  # noqa: N802
        self, request: pb.GetAlarmRequest, context: grpc.ServicerContext
    ) -> pb.GetAlarmResponse:
        alarm = alarms.get_alarm(
            self._uow(), tenant_id=call_context(context).tenant_id, alarm_id=request.alarm_id
        )
        return pb.GetAlarmResponse(alarm=alarm_message(alarm))

    def AcknowledgeAlarm(  # noqa: N802
        self, request: pb.AcknowledgeAlarmRequest, context: grpc.ServicerContext
    ) -> pb.AcknowledgeAlarmResponse:
        caller = call_context(context)
        change = alarms.acknowledge(
            self._uow(), tenant_id=caller.tenant_id, alarm_id=request.alarm_id, actor=caller.actor
        )
        count_alarms([change])
        return pb.AcknowledgeAlarmResponse(alarm=alarm_message(change.alarm))

    def ClearAlarm(  # noqa: N802
        self, request: pb.ClearAlarmRequest, context: grpc.ServicerContext
    ) -> pb.ClearAlarmResponse:
        caller = call_context(context)
        change = alarms.clear(
            self._uow(), tenant_id=caller.tenant_id, alarm_id=request.alarm_id, actor=caller.actor
        )
        count_alarms([change])
        return pb.ClearAlarmResponse(alarm=alarm_message(change.alarm))
