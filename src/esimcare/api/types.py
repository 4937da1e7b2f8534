"""Path parameter types shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# Row ids fit a 32-bit integer column on every database; anything larger cannot exist.
EntityId = Annotated[int, Path(ge=1, le=2**31 - 1)]
