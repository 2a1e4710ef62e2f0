from services.common.migrations import run_env
from services.router.models import Base

run_env(Base.metadata)
