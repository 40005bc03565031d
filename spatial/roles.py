"""User roles (kept apart from the models so the CLI can name them without loading the ORM)."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """User roles. Admins may do anything; surveyors upload; planners and analysts read."""

    admin = "admin"
    surveyor = "surveyor"
    planner = "planner"
    analyst = "analyst"
