"""Users: who am I, and (admins only) add, list and change users, passwords and tokens."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from api.deps import Admin, EngineDep, UserDep
from spatial.models import Role
from spatial.users import add_user, list_users, reset_token, set_password, update_user

router = APIRouter(prefix="/users", tags=["users"])


class UserPublic(BaseModel):
    """A user as shown to clients (never the token or password hash)."""

    name: str
    role: Role


class UserRow(UserPublic):
    """A user as listed for admins."""

    active: bool
    has_password: bool
    created_at: datetime
    last_login: datetime | None = None


class UserCreate(BaseModel):
    """Request body to add a user (the password is optional: token-only users exist)."""

    name: str = Field(min_length=1, max_length=100)
    role: Role
    password: str | None = Field(default=None, min_length=10, max_length=200)


class UserCreated(UserPublic):
    """A new user with its API token, shown once."""

    token: str


class UserUpdate(BaseModel):
    """A change of role and/or active state."""

    role: Role | None = None
    active: bool | None = None


class UserState(UserPublic):
    """A user's role and whether they may sign in."""

    active: bool


class PasswordSet(BaseModel):
    """A new password for a user."""

    password: str = Field(min_length=10, max_length=200)


class TokenIssued(BaseModel):
    """A new API token, shown once."""

    name: str
    token: str


@router.get("/me", response_model=UserPublic)
def me(user: UserDep) -> UserPublic:
    """The user the bearer token or browser session belongs to."""
    return UserPublic(name=user.name, role=user.role)


@router.get("", response_model=list[UserRow])
def users_list(admin: Admin, engine: EngineDep) -> list[UserRow]:
    """Every user (admin only)."""
    return [UserRow.model_validate(r) for r in list_users(engine)]


@router.post("", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, admin: Admin, engine: EngineDep) -> UserCreated:
    """Add a user (admin only) and return its token; the audit log records who did it."""
    token = add_user(body.name, body.role, engine, actor=admin.name, password=body.password)
    return UserCreated(name=body.name, role=body.role, token=token)


@router.patch("/{name}", response_model=UserState)
def change_user(name: str, body: UserUpdate, admin: Admin, engine: EngineDep) -> UserState:
    """Change a user's role or deactivate them (admin only; never the last admin): 409."""
    out = update_user(
        engine, name, admin.name, admin.role.value, role=body.role, active=body.active
    )
    return UserState.model_validate(out)


@router.post("/{name}/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(name: str, body: PasswordSet, admin: Admin, engine: EngineDep) -> None:
    """Set or reset a user's password (admin only); their browser sessions end."""
    set_password(engine, name, body.password, admin.name, admin.role.value)


@router.post("/{name}/token", response_model=TokenIssued)
def new_token(name: str, admin: Admin, engine: EngineDep) -> TokenIssued:
    """Issue a new API token for a user (admin only); the old one stops working."""
    return TokenIssued(name=name, token=reset_token(engine, name, admin.name, admin.role.value))
