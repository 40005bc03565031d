"""Users: who am I, and (admins only) add a user."""

from __future__ import annotations

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from api.deps import Admin, EngineDep, UserDep
from spatial.models import Role
from spatial.users import add_user

router = APIRouter(prefix="/users", tags=["users"])


class UserPublic(BaseModel):
    """A user as shown to clients (never the token hash)."""

    name: str
    role: Role


class UserCreate(BaseModel):
    """Request body to add a user."""

    name: str = Field(min_length=1, max_length=100)
    role: Role


class UserCreated(UserPublic):
    """A new user with its API token, shown once."""

    token: str


@router.get("/me", response_model=UserPublic)
def me(user: UserDep) -> UserPublic:
    """The user the bearer token belongs to."""
    return UserPublic(name=user.name, role=user.role)


@router.post("", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, admin: Admin, engine: EngineDep) -> UserCreated:
    """Add a user (admin only) and return its token; the audit log records who did it."""
    token = add_user(body.name, body.role, engine, actor=admin.name)
    return UserCreated(name=body.name, role=body.role, token=token)
