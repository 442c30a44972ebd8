"""The ``bocadillo`` command. Nothing in the package imports this layer."""
