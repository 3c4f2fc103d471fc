"""The sans-I/O core: everything that decides, nothing that waits.

JWS parsing (``jws``), keys and signatures (``keys``), the claim rules
(``policy``, ``claims``, ``scopes``), the JWKS cache as state (``jwks``),
the discovery rules (``discovery``), the verified-token cache
(``token_cache``), the verification flow (``engine``), the errors and the
events. No module here imports an HTTP client, an event loop, threads,
sockets or a web framework (``tests/test_architecture.py`` checks it): the
drivers in ``m2m_guard._drivers`` do the I/O the flows ask for.

Internal: import the public names from ``m2m_guard``.
"""
