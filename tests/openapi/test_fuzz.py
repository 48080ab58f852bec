"""schemathesis over /openapi.json against the app with auth on, a real API access token and the real Monaco build:
no 5xx, every answer valid against its documented schema, status and content type, every error of our own routes
in the one envelope. Bounded: per operation, its examples, then FUZZ_EXAMPLES schema-valid and FUZZ_EXAMPLES
schema-breaking cases (LDS_FUZZ_EXAMPLES overrides); hypothesis keeps no database (derandomized, repeatable)."""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from authfixtures import ADMIN_TOKEN, auth_settings, bearer, make_token
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from lds.openapi.routes import DIALECT_PREFIXES
from lds.services import SERVICES

FUZZ_EXAMPLES = int(os.environ.get("LDS_FUZZ_EXAMPLES", "8"))
# The admin token reads tokens and connections; everything else goes with an API token (lds, sql, maps), so
# its writes there are refused (403) before any work: imports download what a URL names and connections connect
# to the hosts they name (tests/imports and tests/connections attack those with the right tokens).
ADMIN_READS = ("/v3/tokens", "/v3/connections")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture()
def fuzz_app(lds_core, tmp_path):
    from lds.app import create_app

    app = create_app(auth_settings(lds_core.data.path, tmp_path), lds=lds_core)
    app.config["lds_fuzz_token"] = make_token(
        app.test_client(), allowed_apis=["lds", "sql", "maps"], grants=[{"connection_name": "carto_dw", "source": "*"}]
    )
    return app


def _ours(path: str) -> bool:
    """Our own routes answer errors in the envelope; the peer-API dialects answer in their peers' shapes."""
    return not any(path.startswith(prefix) for prefix in DIALECT_PREFIXES)


def _strategies(operation) -> dict[str, tuple[SearchStrategy, int]]:
    """Strategies of cases: the document's examples (inside the extract: real answers), then positive and
    negative (schema-breaking) cases, with how many cases of each."""
    found = {"examples": (st.one_of(examples), 2)} if (examples := operation.get_strategies_from_examples()) else {}
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        found[mode.value] = (operation.as_strategy(generation_mode=mode), FUZZ_EXAMPLES)
    return found


def _fuzz(strategy: SearchStrategy, cases: int, app, statuses: Counter) -> None:
    """``cases`` cases of ``strategy`` (hypothesis shrinks a failure to its smallest case and raises it)."""
    token = app.config["lds_fuzz_token"]

    @given(case=strategy)
    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
    )
    def run(case) -> None:
        admin = case.path.startswith(ADMIN_READS) and case.method == "GET"
        response = case.call_and_validate(headers=bearer(ADMIN_TOKEN if admin else token), checks=CHECKS)
        statuses[case.method.upper(), case.path, response.status_code] += 1
        if response.status_code >= 400 and _ours(case.path):
            body = response.json()
            assert set(body) == {"error", "status"} and body["status"] == response.status_code, body

    run()


def test_api_fuzz(fuzz_app):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)
    failures, tried, statuses = [], 0, Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        for kind, (strategy, cases) in _strategies(operation).items():
            try:
                _fuzz(strategy, cases, fuzz_app, statuses)
                tried += 1
            except Unsatisfiable:  # no negative case exists (every value of every parameter is valid)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every operation's failures are reported
                failures.append(f"{operation.method.upper()} {operation.path} [{kind}]: {exc}")
    assert tried > 40, tried
    assert not failures, "\n\n".join(failures)
    # the examples inside the extract (lds.openapi.schemas.examples_in) reach real answers, checked against schemas
    answered = {path for method, path, status in statuses if status == 200}
    assert {service.path for service in SERVICES.values()} <= answered, statuses
