"""The rewards use cases, one module each; the servicer (api.py) and the workers (workers.py) call them.

    offer.py        Offer              which coupon, if any, to show a customer now
    claim.py        Claim              an offer becomes a coupon, reserving its face value
    redeem.py       Redeem             an order pays with a coupon
    refund.py       RefundOrder        the order is refunded: the coupon and its budget come back
    payment.py      RecordPayment      a payment measured for the uplift report
    opt_out.py      SetOptOut          the customer asks not to be contacted
    pending.py      ListPendingOffers  the offers a customer can still claim
    report.py       GetCampaignReport  spend, the funnel and uplift against the holdout
    expiry.py       (worker)           coupons past their validity give their budget back
    fallback.py     (worker)           fallback waves to customers who claimed and did not redeem
    policy_state.py (start, worker)    what the policy learned, rebuilt at start and λ flushed

Shared by them: budget.py (where the campaign budget is applied), learning.py (what the policy learns,
applied once the call committed), unit.py (one call = one unit of work) and wire.py (response messages).
"""
