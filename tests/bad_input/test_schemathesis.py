"""schemathesis against ``/api/openapi.json`` of the server and of the client, in process (WSGI).

Every operation of each app gets a few generated requests (valid and invalid), sent with a bearer
token. No answer may be a 5xx (except the client's documented 503 ``offline``/``online_only``,
in the envelope), and every 4xx must be the JSON error envelope
``{"error": {"code", "message", "fields"}}``. The run is bounded (``SCHEMATHESIS_EXAMPLES`` per
operation, 20 by default, derandomized so CI is repeatable) and collects every distinct problem before
failing, so one run shows them all.
"""
from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))
BUDGET_S = 25.0
# the client's documented 503s: being offline is a normal state (sync now, the online-only directory)
OFFLINE_CODES = ("offline", "online_only")


def _problem(response: Any) -> str | None:
    status = response.status_code
    if status < 400:
        return None
    try:
        body = json.loads(response.content or b"")
    except ValueError:
        return f"{status} not JSON: {response.content[:120]!r}"
    error = body.get("error") if isinstance(body, dict) else None
    if (not isinstance(body, dict) or set(body) != {"error"} or not isinstance(error, dict)
            or not isinstance(error.get("code"), str) or not isinstance(error.get("message"), str)
            or not isinstance(error.get("fields"), dict)):
        return f"{status} not the envelope: {json.dumps(body, ensure_ascii=False)[:160]}"
    if status >= 500 and not (status == 503 and error["code"] in OFFLINE_CODES):
        return f"{status} {error['code']}: {error['message'][:120]}"
    return None


def _fuzz(app: Flask, headers: dict[str, str]) -> tuple[dict[str, str], int]:
    """Run every operation of the app's OpenAPI document; return problems by operation, and calls made."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    problems: dict[str, str] = {}
    calls = 0
    deadline = time.monotonic() + BUDGET_S
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the OpenAPI document lists no operations"
    for operation in operations:
        if time.monotonic() > deadline:
            problems["(budget)"] = f"stopped before {operation.method.upper()} {operation.path}: over {BUDGET_S}s"
            break

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            nonlocal calls
            calls += 1
            response = case.call(headers=headers)
            problem = _problem(response)
            if problem is not None:
                key = f"{case.method.upper()} {operation.path}"
                problems.setdefault(key, f"{problem} (sent {case.method} {case.formatted_path} "
                                         f"query={case.query!r} body={str(case.body)[:120]})")

        run()
    return problems, calls


@pytest.mark.parametrize("side", ["server", "client"])
def test_generated_requests_never_get_a_5xx_and_every_4xx_is_the_envelope(
    side: str, request: pytest.FixtureRequest,
) -> None:
    if side == "server":
        app, headers = request.getfixturevalue("server"), request.getfixturevalue("server_token")
    else:
        app, headers = request.getfixturevalue("client_app_"), request.getfixturevalue("client_token")
    problems, calls = _fuzz(app, headers)
    print(f"{side}: {calls} generated requests")
    assert calls > 0
    assert not problems, "\n".join(f"{k}: {v}" for k, v in sorted(problems.items()))


@pytest.mark.parametrize("side", ["server", "client"])
def test_a_huge_page_number_is_a_422(side: str, request: pytest.FixtureRequest) -> None:
    if side == "server":
        http, headers = request.getfixturevalue("http"), request.getfixturevalue("server_token")
    else:
        http, headers = request.getfixturevalue("client_http"), request.getfixturevalue("client_token")
    for path in ("/api/customers", "/api/contacts", "/api/visits", "/api/products", "/api/opportunities", "/api/quotes",
                 "/api/orders", "/api/receipts"):
        answer = http.get(path, query_string={"page": 2**62, "per_page": 100}, headers=headers)
        assert answer.status_code == 422, f"{path}: {answer.status_code}"
