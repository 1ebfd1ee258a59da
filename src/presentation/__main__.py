"""``python -m presentation`` is the ``herald`` command."""

from presentation.cli import main

raise SystemExit(main())
