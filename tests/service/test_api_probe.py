"""Probe every operation of `/openapi.json` with schemathesis, under each key role: no 5xx, no answer off the schema.

The app runs in-process (schemathesis's ASGI transport, lifespan included) on Postgres and the real Redis, with a
small shop (one product, one order, a key of each role). Every operation gets schemathesis's default checks (server
errors, status codes, content types, headers and bodies against the schema, negative data rejected, positive data
accepted, missing auth refused, undocumented methods answered 405 with `Allow`) over a bounded, derandomized set of
examples, so CI sees the same requests each run; the counts are printed at the end of the module.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.python import asgi

from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.settings import Settings
from service.app import create_app
from tests.conftest import REDIS_URL, make_shop, postgres_database

pytestmark = [pytest.mark.service, pytest.mark.timeout(420)]

EXAMPLES_PER_OPERATION = 10
"""Hypothesis examples per operation in the fuzzing phase, each sent with every role's key (the coverage phase adds
its own boundary cases); about 2,700 requests in all, a minute and a half on two cores."""


@dataclass
class Probe:
    app: object
    keys: dict[m.ApiKeyRole, str]
    statuses: Counter[str] = field(default_factory=Counter)
    operations: set[str] = field(default_factory=set)


async def _seed(url: str) -> dict[m.ApiKeyRole, str]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            shop = await make_shop(session, "probe")
    finally:
        await engine.dispose()
    return {
        m.ApiKeyRole.STOREFRONT: shop.storefront_key,
        m.ApiKeyRole.OPERATOR: shop.operator_key,
        m.ApiKeyRole.ADMIN: shop.admin_key,
    }


@pytest.fixture(scope="module")
def probe(
    migrated_postgres: str, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Probe]:
    """The full app on a Postgres database of its own with one small shop; its lifespan is schemathesis's."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis is unreachable ({exc})")
    data_dir: Path = tmp_path_factory.mktemp("probe") / "data"
    with postgres_database("hub_probe", template=migrated_postgres) as url:
        keys = asyncio.run(_seed(url))
        settings = Settings(
            data_dir=data_dir,
            database_url=url,
            redis_url=REDIS_URL,
            # The probe sends thousands of requests from one address, hundreds with a bad key on purpose: limits
            # that refuse them would leave most operations answering 429 instead of showing what they do.
            chat_rate_limit_per_session_per_minute=100_000,
            chat_rate_limit_per_client_per_minute=100_000,
            chat_rate_limit_per_minute=100_000,
            key_max_failures_per_client=1_000_000,
        )
        probe = Probe(app=create_app(settings), keys=keys)
        yield probe
        asgi.shutdown_lifespans()  # the app's lifespan ran in schemathesis's event loop thread
    client.flushdb()
    client.close()
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(
                f"\nAPI probe: {len(probe.operations)} operations x {len(keys)} key roles, "
                f"{probe.statuses.total()} requests, statuses {dict(sorted(probe.statuses.items()))}"
            )


CONFIG = schemathesis.Config.from_dict(
    {
        "operations": [
            {
                # A prompt pin must name a released version of a known use case: the registry's files, which the
                # schema cannot list; a pin outside them is refused with 422 however well-formed it is.
                "include-path": "/v1/tenant",
                "include-method": "PATCH",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}
                },
            },
            {
                # The body is a platform's export file: a schema can say "a string", not "a Shopify product CSV";
                # a string that is not the named format is refused with 422 naming what is missing.
                "include-path": "/v1/catalog/import",
                "include-method": "POST",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}
                },
            },
            {
                # A product's fields must fit together beyond what a schema says: one without variants needs a
                # price, one with variants has the path's SKU among them, and a SKU another product holds is refused.
                "include-path": "/v1/products/{sku}",
                "include-method": "PUT",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}
                },
            },
            {
                # An order's line item needs a SKU or a title; its e-mail must read as one (`hub.text.EMAIL`).
                "include-path": "/v1/orders/{number}",
                "include-method": "PUT",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}
                },
            },
            {
                # The path's id is the customer's e-mail, which must read as one (`hub.text.EMAIL`).
                "include-path": "/v1/customers/{id}",
                "include-method": "PUT",
                "checks": {
                    "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}
                },
            },
        ]
    }
)


@pytest.fixture(scope="module")
def api_schema(probe: Probe) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", probe.app, config=CONFIG)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's fixture-loaded schemas label each operation's subtest through `Node._nodeid`, which
    # pytest 9 no longer has (it keeps `Node._id`).
    request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_schema(case: schemathesis.Case, probe: Probe) -> None:
    probe.operations.add(case.operation.label)
    # A case that leaves out or garbles the key on purpose is sent as generated; any other is sent with each role's.
    keyed = "X-Hub-Key" in (case.headers or {}) and not case.operation.schema.is_security_param_negated(case)
    for role, key in probe.keys.items() if keyed else [(None, None)]:
        if keyed:
            case.headers["X-Hub-Key"] = key
        try:
            response = case.call_and_validate()
        except Exception as exc:
            exc.add_note(f"with the {role} key" if role else "with the key as generated")
            raise
        probe.statuses[str(response.status_code)] += 1
