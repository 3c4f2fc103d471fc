"""A Flask service whose routes are called by other machines with M2M tokens.

Routes:
    GET  /health     public
    GET  /whoami     any valid access token
    GET  /settings   requires the scope read:settings
    POST /settings   requires the scope write:settings

The verifier is configured by ``M2M_GUARD_*`` environment variables
(``Verifier.from_env``). Against a Stytch project::

    M2M_GUARD_STYTCH_PROJECT_ID=project-test-... python examples/flask_app.py

Against any other issuer::

    M2M_GUARD_ISSUER=https://issuer.example M2M_GUARD_AUDIENCE=my-api \\
    M2M_GUARD_JWKS_URL=https://issuer.example/.well-known/jwks.json \\
    python examples/flask_app.py

It listens on ``$HOST:$PORT`` (default 127.0.0.1:8000) with werkzeug's
threaded server; then::

    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/whoami

In production, serve ``create_app()`` with a WSGI server instead, e.g.
``waitress-serve --port 8000 --call examples.flask_app:create_app``.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from flask import Flask, request
from werkzeug.serving import make_server

from m2m_guard import Verifier
from m2m_guard.flask import M2MGuard, current_client


def client_info() -> dict[str, Any]:
    """What the API tells a caller about itself."""
    return {
        "client_id": current_client.client_id,
        "scopes": list(current_client.scopes),
        "custom_claims": dict(current_client.custom_claims),
    }


def create_app(verifier: Verifier | None = None) -> Flask:
    """The application; without a verifier, one is built from the environment."""
    app = Flask(__name__)
    guard = M2MGuard(app, verifier=verifier or Verifier.from_env())
    settings: dict[str, Any] = {"theme": "dark"}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/whoami")
    @guard.require_scopes()
    def whoami() -> dict[str, Any]:
        return client_info()

    @app.get("/settings")
    @guard.require_scopes("read:settings")
    def read_settings() -> dict[str, Any]:
        return {**client_info(), "settings": settings}

    @app.post("/settings")
    @guard.require_scopes("write:settings")
    def write_settings() -> dict[str, Any]:
        changes = request.get_json(silent=True)
        if isinstance(changes, dict):
            settings.update(changes)
        return {**client_info(), "settings": settings}

    return app


def main() -> None:
    """Serve the app on $HOST:$PORT until SIGTERM or Ctrl-C."""
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    verifier = Verifier.from_env()
    verifier.warm_up()  # fetch the keys now; a failure is logged, never fatal
    server = make_server(host, port, create_app(verifier), threaded=True)
    # SIGTERM ends serve_forever like Ctrl-C does, so the socket is closed.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    print(f"Listening on http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        verifier.close()


if __name__ == "__main__":
    main()
