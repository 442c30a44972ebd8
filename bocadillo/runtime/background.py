"""Work that runs after a response is sent: ``BackgroundTasks`` and a response's ``background``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.background import BackgroundTasks as _StarletteBackgroundTasks

__all__ = ["BackgroundTasks", "run_background"]

logger = logging.getLogger("bocadillo")


class BackgroundTasks(_StarletteBackgroundTasks):
    """Work to do after the response is sent.

    Declare a parameter of this type and add tasks to it; they run in order
    once the response's last byte went out. A plain function runs in a worker
    thread, an ``async def`` is awaited. A task that raises is logged and the
    next one still runs::

        @app.post("/signup")
        async def signup(tasks: BackgroundTasks, email: str = Form()) -> None:
            tasks.add_task(send_welcome, email)
    """

    async def __call__(self) -> None:
        for task in self.tasks:
            try:
                await task()
            except Exception:
                logger.exception("A background task failed: %r", task.func)


async def run_background(task: Callable[[], Any]) -> None:
    """Run a response's ``background`` (a task or tasks), logging what it raises."""
    try:
        await task()
    except Exception:
        logger.exception("A background task failed after the response was sent")
