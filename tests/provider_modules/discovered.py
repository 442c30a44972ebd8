"""A module loaded with ``discover_providers("provider_modules.discovered")``."""

from bocadillo import provider


@provider
def discovered_module_greeting() -> str:
    return "discovered"
