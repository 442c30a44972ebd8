"""Schema backends: the protocol and registry, pydantic, typesystem."""
