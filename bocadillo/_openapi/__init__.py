"""OpenAPI 3.1: the document built from the compiled plans, and the docs pages."""
