"""``python -m bocadillo``: the ``bocadillo`` command."""

from ._cli import main

raise SystemExit(main())
