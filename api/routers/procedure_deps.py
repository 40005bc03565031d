"""The role that records procedure events, budgets and pool movements."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.deps import requires
from spatial.models import Role, User

Recorder = Annotated[User, Depends(requires(Role.planner))]
"""Bureau staff who record procedure, budgets and pool movements (planners; admins pass)."""
