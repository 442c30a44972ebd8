"""``python -m bocadillo``: the ``bocadillo`` command."""

from bocadillo.cli.main import main

raise SystemExit(main())
