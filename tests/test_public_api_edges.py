"""The gRPC and Lambda authorizer modules' names, and what importing the core leaves out."""

from __future__ import annotations

import importlib
import subprocess
import sys


def test_the_grpc_and_lambda_modules_list_their_names() -> None:
    for name, public in {
        "m2m_guard.grpc": [
            "AsyncM2MServerInterceptor",
            "M2MAuthMetadataPlugin",
            "M2MServerInterceptor",
            "MethodScopes",
            "call_credentials",
            "get_claims",
        ],
        "m2m_guard.aws_lambda": [
            "AuthorizerUnavailable",
            "LambdaAuthorizer",
            "RouteScopes",
            "lambda_authorizer",
        ],
    }.items():
        module = importlib.import_module(name)
        assert module.__all__ == public
        for attribute in public:
            assert hasattr(module, attribute), (name, attribute)


def test_importing_the_core_or_the_lambda_authorizer_loads_no_grpc() -> None:
    code = (
        "import sys, m2m_guard, m2m_guard.aws_lambda; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'grpc'))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
