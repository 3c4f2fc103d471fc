"""Issuer presets (Stytch and others), discovery, several issuers at once, RFC 9728."""
