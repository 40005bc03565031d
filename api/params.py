"""Path parameters the routers share, their limits from the layer declarations."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

from spatial.procedure.text import NO_NUL_PATTERN
from spatial.schema.layers import PROJECT_CODE_LEN

ProjectCode = Annotated[
    str,
    Path(
        min_length=1,
        max_length=PROJECT_CODE_LEN,
        pattern=NO_NUL_PATTERN,
        description="project code",
    ),
]
"""A project's code in a path (``/projects/{code}``…): as long as the declared column at most,
no NUL character (PostgreSQL text cannot hold one: 422, not a 500 from the driver)."""
