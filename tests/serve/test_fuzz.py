"""Schemathesis, driven by the server's own OpenAPI document, over every route it documents.

Bounded (30 examples per operation, no deadline: the machine is shared) and against the
real server on loopback, with the API key on (so the auth checks run too). Checks: no 5xx,
every status and content type documented, every body matching its schema, invalid data
refused, valid data accepted. Each input that once found a defect is kept in test_protocols.py
or test_app.py as a regression test (the report lists them).
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

from tests.serve.conftest import AUTH, ServerProcess  # noqa: E402


def test_the_api_keeps_its_own_documentation(keyed_server: ServerProcess) -> None:
    # One hypothesis run per operation (schemathesis's pytest plugin needs a newer pytest API).
    schema = schemathesis.openapi.from_url(f"{keyed_server.url}/openapi.json", headers=AUTH)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11  # every route the server documents
    for operation in operations:
        # A v2 tensor's shape must match its data's length: JSON Schema cannot say so, so a
        # "valid" request there may be a 400 by design.
        excluded = [positive_data_acceptance] if operation.path.endswith("/infer") else []
        fuzz(operation, excluded)


def fuzz(operation, excluded: list) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case) -> None:
        case.call_and_validate(headers=AUTH, timeout=30, excluded_checks=excluded)

    check()
