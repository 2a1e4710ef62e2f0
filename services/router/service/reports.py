"""Ops reads of the policy state and the traffic: versions with what each did, and the routing report."""

from __future__ import annotations

from datetime import datetime

from services.common.db import Database
from services.router.domain.reports import local_days, routing_mix, version_figures
from services.router.mapping import report_proto, versions_proto
from services.router.service.policies import PolicyController
from services.router.store import control as control_store
from services.router.store import decisions as store
from skylane.router.v1 import router_pb2


class PolicyReports:
    def __init__(self, db: Database, policies: PolicyController) -> None:
        self.db, self.policies = db, policies

    async def versions(self) -> router_pb2.ListPolicyVersionsResponse:
        """Every known version with its role and figures, and the history of the champion and candidate."""
        await self.policies.settle()
        snap = self.policies.snapshot
        async with self.db.report() as session:
            versions = await control_store.load_versions(session)
            history = await control_store.load_history_rows(session)
            stats = await store.version_stats(session)
        return versions_proto(snap.state, snap.config_version, versions, history, version_figures(stats))

    async def routing(self, start: datetime, end: datetime) -> router_pb2.RoutingReport:
        """Live decisions in [start, end) by tier, destination, channel and local day, sticky repeats, and the
        in-house capacity used on the days the window touches."""
        snap = self.policies.snapshot
        first_day, last_day = local_days(start, end, snap.zone)
        async with self.db.report() as session:
            groups = await store.report_groups(session, start, end)
            capacity = await store.capacity_between(session, first_day, last_day)
        in_house = snap.champion.policy.in_house
        caps = {in_house.product_id: in_house.daily_cap} if in_house else {}
        return report_proto(routing_mix(groups), capacity, caps)
