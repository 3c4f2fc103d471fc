"""An API Gateway Lambda authorizer for machine-to-machine tokens.

Deploy this module with its handler ``examples.aws_lambda_authorizer.handler``
(``aws_lambda_authorizer.handler`` when the file sits at the package's root)
as a REST API TOKEN or REQUEST authorizer, or as an HTTP API authorizer with
payload format 2.0 and simple responses. The identity source is the
``Authorization`` header.

Routes, by the ``{METHOD}/{path}`` part of the call's ARN:
    GET/settings*     requires the scope read:settings
    PUT/settings*     requires the scope write:settings
    anything else     any valid access token

The verifier is configured by ``M2M_GUARD_*`` environment variables (the
function's configuration): built on the first invocation, then kept with
its key cache for the execution environment's life. Try it locally with an
event in AWS's shape::

    M2M_GUARD_STYTCH_PROJECT_ID=project-test-... \\
        python examples/aws_lambda_authorizer.py event.json
"""

from __future__ import annotations

import json
import sys

from m2m_guard import Verifier
from m2m_guard.aws_lambda import lambda_authorizer

handler = lambda_authorizer(
    Verifier.from_env,  # a factory: built on the first invocation
    routes={"GET/settings*": "read:settings", "PUT/settings*": "write:settings"},
    context_claims=["tenant"],
)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as file:
        event = json.load(file)
    try:
        print(json.dumps(handler(event, None), sort_keys=True))
    except Exception as refused:  # what API Gateway would see raised
        print(json.dumps({"raised": type(refused).__name__, "message": str(refused)}))
