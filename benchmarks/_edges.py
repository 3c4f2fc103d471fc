"""gRPC and AWS Lambda authorizer cases: bare vs intercepted gRPC calls,
the warm authorizer invocation, and the authorizer's cold start.

gRPC: one ``grpc.Server`` per side on 127.0.0.1, in this process, each
with the same generic unary handler; the client calls both over the same
kind of channel with the same warm token. The work spreads over gRPC's own
threads, so these two cases are timed by the wall clock (round-robin, like
every case). Lambda: the handler ``lambda_authorizer`` returns, called in
process with a REST TOKEN event. Cold start: a fresh interpreter imports
``m2m_guard.aws_lambda``, builds the verifier over the local issuer's JWKS
URL and answers its first event (one key fetch over 127.0.0.1).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent import futures
from contextlib import contextmanager
from typing import Any

import grpc

from benchmarks._timing import Case
from m2m_guard import Verifier
from m2m_guard.aws_lambda import lambda_authorizer
from m2m_guard.grpc import M2MServerInterceptor, get_claims

__all__ = ["cold_start_ms", "grpc_cases", "lambda_case", "token_event"]

METHOD = "/bench.Hello/Say"
ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef123/prod/GET/orders"


def _say(request: bytes, context: Any) -> bytes:
    get_claims(context)  # what a servicer would read
    return b"hello"


@contextmanager
def _served(interceptors: list[Any]) -> Iterator[Callable[[bytes], bytes]]:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2),
        handlers=[
            grpc.method_handlers_generic_handler(
                "bench.Hello", {"Say": grpc.unary_unary_rpc_method_handler(_say)}
            )
        ],
        interceptors=interceptors,
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel.unary_unary(METHOD)
    finally:
        channel.close()
        server.stop(None)


@contextmanager
def grpc_cases(verifier: Verifier, token: str, scope: str) -> Iterator[list[Case]]:
    """Bare vs intercepted unary calls; ``verifier`` should already know ``token``."""
    metadata = (("authorization", f"Bearer {token}"),)
    interceptor = M2MServerInterceptor(verifier, methods={"/bench.Hello/*": scope})
    with _served([]) as bare, _served([interceptor]) as guarded:
        for stub in (bare, guarded):
            if stub(b"hi", metadata=metadata, timeout=10) != b"hello":
                raise RuntimeError("the gRPC server did not answer")

        def case(key: str, label: str, stub: Callable[..., bytes]) -> Case:
            def batch(n: int) -> None:
                for _ in range(n):
                    stub(b"hi", metadata=metadata, timeout=10)

            return Case(key, label, lambda: batch)

        yield [
            case("grpc_bare", "gRPC unary call, bare server", bare),
            case("grpc_guarded", "gRPC unary call, M2MServerInterceptor", guarded),
        ]


def token_event(token: str) -> dict[str, Any]:
    """A REST API TOKEN authorizer event for ``GET /orders``."""
    return {"type": "TOKEN", "authorizationToken": f"Bearer {token}", "methodArn": ARN}


def lambda_case(verifier: Verifier, token: str, scope: str) -> Case:
    """A warm invocation: the same token, the verifier's caches warm."""
    handler = lambda_authorizer(verifier, routes={"GET/orders*": scope}, context_claims=["tenant"])
    event = token_event(token)
    answer = handler(event, None)
    if answer["policyDocument"]["Statement"][0]["Effect"] != "Allow":
        raise RuntimeError("the authorizer did not allow the benchmark's token")

    def batch(n: int) -> None:
        for _ in range(n):
            handler(event, None)

    return Case("lambda_warm", "Lambda authorizer, warm invocation (REST TOKEN)", lambda: batch)


_COLD = """
import json, sys, time
start = time.perf_counter()
from m2m_guard import Verifier
from m2m_guard.aws_lambda import lambda_authorizer
imported = time.perf_counter()
project_id, jwks_url, event = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
handler = lambda_authorizer(Verifier.for_stytch(project_id, jwks_url=jwks_url))
answer = handler(event, None)
done = time.perf_counter()
assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow", answer
print(json.dumps({"import_ms": (imported - start) * 1e3, "total_ms": (done - start) * 1e3}))
"""


def cold_start_ms(project_id: str, jwks_url: str, token: str, runs: int) -> dict[str, float]:
    """Median over ``runs`` fresh interpreters: the import, and import + first answer."""
    samples: list[dict[str, float]] = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", _COLD, project_id, jwks_url, json.dumps(token_event(token))],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        samples.append(json.loads(result.stdout))
    return {key: statistics.median(s[key] for s in samples) for key in ("import_ms", "total_ms")}
