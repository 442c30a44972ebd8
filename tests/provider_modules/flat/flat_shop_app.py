"""A top-level app module (not in a package) with a ``providerconf.py`` beside it."""

from bocadillo import App

app = App()


@app.get("/greeting")
async def greeting(flat_providerconf_greeting) -> dict[str, str]:
    return {"greeting": flat_providerconf_greeting}
