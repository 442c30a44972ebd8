"""A module that defines a provider; importing it is enough to register it."""

from bocadillo import provider


@provider(name="imported_module_answer")
async def answer() -> int:
    return 42
