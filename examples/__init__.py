"""Runnable example apps; each is served, tested and contract-tested."""
