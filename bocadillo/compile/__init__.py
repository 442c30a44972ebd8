"""Start-up only: signatures read once and compiled into plans."""
