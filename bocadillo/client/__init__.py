"""Typed clients generated from an app's documents (``bocadillo client``).

``spec.py`` reads the operations of the OpenAPI document, ``models.py`` has
datamodel-code-generator write the models of its schemas, ``render.py`` writes
the package's modules, ``package.py`` puts them together. The generated code
needs only httpx and pydantic, never Bocadillo.
"""

from bocadillo.client.package import generate_client, write_client

__all__ = ["generate_client", "write_client"]
