"""The API documents (OpenAPI, AsyncAPI) and the docs pages, built from the compiled plans."""
