"""A Django service whose routes are called by other machines with M2M tokens.

Configured by ``settings.M2M_GUARD`` and the ``M2M_GUARD_*`` environment
variables (see settings.py); the routes are in urls.py. Against a Stytch
project::

    M2M_GUARD_STYTCH_PROJECT_ID=project-test-... python examples/django_app/serve.py

It serves the ASGI application with uvicorn on ``$HOST:$PORT`` (default
127.0.0.1:8000); ``serve_wsgi.py`` serves the WSGI one with waitress. Then::

    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/whoami
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # makes django_app importable
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_app.settings")


def main(wsgi: bool = False) -> None:
    """Serve the project on $HOST:$PORT: ASGI under uvicorn, or WSGI under waitress."""
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    print(f"Listening on http://{host}:{port}", flush=True)
    if wsgi:
        import waitress
        from django.core.wsgi import get_wsgi_application

        waitress.serve(get_wsgi_application(), host=host, port=port)
        return
    import uvicorn
    from django.core.asgi import get_asgi_application

    uvicorn.run(get_asgi_application(), host=host, port=port, lifespan="off")


if __name__ == "__main__":
    main()
