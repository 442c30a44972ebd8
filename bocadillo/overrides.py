"""``ProviderOverride``: what ``App.override_provider`` returns, to undo the override."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["ProviderOverride"]


class ProviderOverride:
    """An override made by ``App.override_provider``; leaving its ``with`` undoes it."""

    def __init__(self, restore: Callable[[], None]) -> None:
        self._restore = restore

    def __enter__(self) -> ProviderOverride:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.undo()

    def undo(self) -> None:
        """Put back what was there before the override."""
        self._restore()
