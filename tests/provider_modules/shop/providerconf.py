"""Loaded by the app beside it when it starts."""

from bocadillo import provider


@provider
def shop_providerconf_greeting() -> str:
    return "hello from providerconf"
