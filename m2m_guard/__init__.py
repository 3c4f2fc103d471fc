"""m2m_guard: verify machine-to-machine OAuth2 access tokens (filled in by the core)."""

from ._version import __version__

__all__ = ["__version__"]
