"""``python -m presentation`` is the ``herald`` command."""

from presentation.process.cli import main

raise SystemExit(main())
