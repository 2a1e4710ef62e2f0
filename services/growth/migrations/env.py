from services.common.migrations import run_env
from services.growth.models import Base

run_env(Base.metadata)
