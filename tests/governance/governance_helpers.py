"""Names the governance tests share."""

from __future__ import annotations

from collections.abc import Callable

PASSWORD = "correct horse battery staple"

MakeUser = Callable[..., str]
