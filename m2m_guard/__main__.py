"""``python -m m2m_guard``: the same as the ``m2m-guard`` command."""

from .cli import main

raise SystemExit(main())
