"""Dispatch, error handling and middleware: what stands between the server and a plan."""
