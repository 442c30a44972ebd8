"""A to-do list API: the example that ``python3 scripts/serve.py`` serves."""
