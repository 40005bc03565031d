"""Project procedure: registration (track, public infrastructure)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from api.deps import EngineDep, Reader
from api.routers.procedure_deps import Recorder
from spatial.budget.rates import Track
from spatial.procedure.projects import Registration, get_registration, register_project

router = APIRouter(prefix="/procedure", tags=["procedure"])

ProjectCode = Annotated[str, Path(min_length=1, max_length=50, description="project code")]


class RegistrationIn(BaseModel):
    """Which track a project follows, and whether it is public infrastructure (Art. 16)."""

    track: Track
    public_infrastructure: bool = False


@router.put("/projects/{code}/registration", response_model=Registration)
def put_registration(
    code: ProjectCode, body: RegistrationIn, user: Recorder, engine: EngineDep
) -> Registration:
    """Register (or re-register) a current project for procedure tracking (audited)."""
    return register_project(
        engine, code, body.track, body.public_infrastructure, user.name, user.role.value
    )


@router.get("/projects/{code}/registration", response_model=Registration)
def get_project_registration(code: ProjectCode, user: Reader, engine: EngineDep) -> Registration:
    """A project's registration (404 when not registered)."""
    return get_registration(engine, code)
