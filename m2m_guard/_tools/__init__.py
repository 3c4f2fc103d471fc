"""Tooling behind the CLI: the demo, the explainer and a loopback server thread.

Internal; nothing here is imported by the verification path.
"""
