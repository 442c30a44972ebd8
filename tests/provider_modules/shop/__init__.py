"""A package whose app module has a ``providerconf.py`` beside it."""
