"""The rewards rules, pure: no database, no gRPC; the clock's now and the random generator come in as
arguments, so tests/rewards/unit/ checks each module without a server.

    contact.py   local day and week, quiet hours, the caps and opt-out: may this customer be touched now
    holdout.py   which customers form the control group of a campaign
    profile.py   customer tags against eligibility rules and segments
    budget.py    what is left of a campaign's total and of today's budget (applied in service/budget.py)
    fallback.py  when the fallback waves are due
    policy.py    the allocation policy: which arm (or none) to offer, and the pacer's λ
    uplift.py    treated against holdout, with 95% intervals
"""
