"""Issuers other than Stytch: presets, discovery, several issuers at once, RFC 9728."""
