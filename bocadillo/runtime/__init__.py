"""Run time: what serves a request, a WebSocket message or an event, by its compiled plan."""
