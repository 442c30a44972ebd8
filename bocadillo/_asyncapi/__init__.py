"""AsyncAPI 3.0: the document of the app's WebSocket routes, and its channels page."""
