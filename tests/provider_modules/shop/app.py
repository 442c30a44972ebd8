"""An app that names a provider it does not import: ``providerconf.py`` defines it."""

from bocadillo import App

app = App()


@app.get("/greeting")
async def greeting(shop_providerconf_greeting) -> dict[str, str]:
    return {"greeting": shop_providerconf_greeting}
