"""The router's use cases, one module each, every one handed its dependencies by app.py:

- routing.py: RouteApplicant (group commit; steps in batch.py, rows in records.py, types in commands.py)
- decisions.py: GetDecision
- policies.py: the policy state in force; policy_changes.py: activate, roll back, set the candidate
- what_if.py: what-if replays; reports.py: policy versions and the routing report

The names below are what a caller outside the service needs to drive RouteApplicant itself (the
benchmark's stand-in for RoutingService answers with them).
"""

from services.router.mapping import decision_proto
from services.router.service.commands import RouteCommand
from services.router.service.records import new_id

__all__ = ["RouteCommand", "decision_proto", "new_id"]
