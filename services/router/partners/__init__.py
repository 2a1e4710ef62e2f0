"""Partner lenders: registry, ping, selection, lead delivery through an outbox, outcomes and reports.

Importing this package registers the partner tables on the router's metadata.
"""

from services.router.partners import models as models
