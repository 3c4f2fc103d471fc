"""A Django REST framework service called by other machines with M2M tokens.

Configured by the ``M2M_GUARD_*`` environment variables (see settings.py);
the routes are in urls.py. Against a Stytch project::

    M2M_GUARD_STYTCH_PROJECT_ID=project-test-... python examples/drf_app/serve.py

It serves the ASGI application with uvicorn on ``$HOST:$PORT`` (default
127.0.0.1:8000), as examples/django_app/serve.py does.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # makes drf_app importable
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drf_app.settings")

from django_app.serve import main  # after the settings module is chosen

if __name__ == "__main__":
    main()
