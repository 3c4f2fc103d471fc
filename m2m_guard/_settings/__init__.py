"""Verifier settings, in three steps that import only downwards.

``checks``: each setting checked and normalised (``ConfigurationError``
names the setting). ``conversions``: settings turned into the parts of a
verifier, a ``ClaimsPolicy`` (``claims_policy``), the key source
(``key_cache``) and the engine's limits, so that ``Verifier.__init__`` is a
list of conversions. ``environment``: keyword arguments read from
``M2M_GUARD_*`` variables or any mapping (Flask's ``app.config``), strictly.
"""
