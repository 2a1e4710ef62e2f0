import services.router.partners  # noqa: F401  (registers the partner-lead tables on Base.metadata)
from services.common.migrations import run_env
from services.router.models import Base

run_env(Base.metadata)
