"""Loaded by ``flat_shop_app`` when it starts."""

from bocadillo import provider


@provider
def flat_providerconf_greeting() -> str:
    return "hello from a flat providerconf"
