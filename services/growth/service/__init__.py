"""Growth's use cases, one module per area, each taking its dependencies explicitly.

A write use case is a function or method over one session that the servicer runs as one unit of work
through `ServiceApp.write` (so it commits with its idempotency record); a read use case runs on a read
session. The maintenance passes (maintenance.py) are the exception: each item of a pass is its own
short transaction, so a pass never holds the single SQLite writer for long.

- members.py: enrolment, balance, statement, expiry dates
- activity.py: RecordActivity and its dry run
- holds.py: spends, two-phase holds, reversals
- rights.py: the rights catalogue and redemptions
- levels.py: immediate upgrades, reviews, overrides, progress
- events.py: the event outbox read (ListEvents)
- outgoing.py: the events growth writes for other services (points_earned, right_redeemed)
- peer_events.py: what growth does with the events of rewards and the router (its consumers)
- maintenance.py: expiry, hold timeouts, expiry warnings, level reviews
"""
