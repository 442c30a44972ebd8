"""Small modules for the provider discovery tests in ``tests/test_providers.py``."""
