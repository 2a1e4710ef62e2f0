"""The partner layer's use cases, each handed its dependencies by services/router/app.py:

- postbacks.py: ReportLeadOutcome, a partner reporting what became of a lead it accepted;
- dead_letters.py: listing and replaying deliveries that ran out of attempts;
- reports.py: a lead's decision trace and the per-partner report.

Selection and delivery (desk.py, dispatcher.py) are shared with RouteApplicant's hook (hook.py).
"""
