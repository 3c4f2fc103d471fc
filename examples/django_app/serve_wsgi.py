"""The Django example served as a WSGI application by waitress (see serve.py).

Run it::

    M2M_GUARD_STYTCH_PROJECT_ID=project-test-... python examples/django_app/serve_wsgi.py
"""

from __future__ import annotations

from serve import main  # this directory is the script's: serve.py sits beside it

if __name__ == "__main__":
    main(wsgi=True)
