"""Partner lenders: registry, ping, selection, lead delivery through an outbox, outcomes and reports.

The same layers as the router itself: pure rules (domain.py with selection.py and estimates.py, and
breaker.py, outcomes.py, payload.py), use cases (service/), SQL (store.py), the LeadService servicer
(api.py, mapping.py), the delivery loop (workers.py); ping.py and channels.py talk to the partners.
The router's app.py composes them. Importing this package registers the partner tables on the router's
metadata.
"""

from services.router.partners import models as models
