"""Fixtures for every test folder: databases on SQLite and Postgres, Redis, apps, two shops."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from hub.db import models as m
from hub.db.engine import create_engine, session_factory
from hub.db.migrate import upgrade
from hub.redis_conn import EmbeddedRedis
from hub.seed import demo as demo_seed
from hub.seed.catalog import DemoShop, build_demo_shop
from hub.seed.demo import DemoCredentials, seed_demo
from hub.settings import Settings, get_settings
from hub.tenancy import admin
from service.app import create_app
from service.cli.common import migrate_database

PG_ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _redis_url() -> str:
    """The test Redis database (`HUB_TEST_REDIS_URL`, else index 9), one index further per pytest-xdist worker
    (9, 10, …): each test empties its database, so two processes must not share one."""
    url = urlsplit(os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/9"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    return urlunsplit(url._replace(path=f"/{int(url.path.strip('/') or 0) + worker}"))


REDIS_URL = _redis_url()

pytest_plugins = ["tests.watchdog"]


def services_required() -> bool:
    """In CI a missing Postgres or Redis fails the run instead of skipping tests."""
    return bool(os.environ.get("CI")) or os.environ.get("HUB_TEST_REQUIRE_SERVICES") == "1"


def _unavailable(what: str, exc: Exception) -> None:
    message = f"{what} is unreachable ({exc})"
    if services_required():
        pytest.fail(f"{message}; service tests are mandatory here", pytrace=False)
    pytest.skip(message)


ADMIN_DSN = make_url(PG_ADMIN_URL).render_as_string(hide_password=False)


@contextmanager
def postgres_database(prefix: str, *, template: str | None = None) -> Iterator[str]:
    """Create a Postgres database (empty, or a copy of the `template` database), yield its URL, drop it after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    try:
        with psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
    except psycopg.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty Postgres database for one test, dropped afterwards."""
    with postgres_database("hub_t") as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.service)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on the embedded SQLite and once on Postgres."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The real Redis server, on a database index of its own, emptied before and after."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        client.flushdb()
    except redis.ConnectionError as exc:
        _unavailable("Redis", exc)
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def embedded_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(tmp_path / "data") as server:
        yield server


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once per run; each test's database starts as a copy of it."""
    path = tmp_path_factory.mktemp("template") / "hub.db"
    migrate_database(Settings(database_url=f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[str]:
    """A Postgres database migrated to head once per run, the template each test's database is created from."""
    with postgres_database("hub_tpl") as url:
        migrate_database(Settings(database_url=url))
        yield make_url(url).database or ""


@dataclass(frozen=True)
class SeededDemo:
    """A database template holding the seeded demo shop, and what seeding it returned."""

    template: str
    """A SQLite file's path, or a Postgres database's name."""
    creds: DemoCredentials
    shop: DemoShop
    """The shop as seeded (the same anchor time), for drawing its sample photo into each test's media folder."""


async def _seed_template(url: str, data_dir: Path) -> tuple[DemoCredentials, DemoShop]:
    eng = create_engine(url)
    try:
        async with session_factory(eng)() as session:
            creds = await seed_demo(session, Settings(data_dir=data_dir), images=False)
            await session.commit()
            tenant = await session.get(m.Tenant, uuid.UUID(creds.tenant_id))
            assert tenant is not None
            return creds, build_demo_shop(tenant.created_at)
    finally:
        await eng.dispose()


@pytest.fixture(scope="session")
def demo_sqlite(migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> SeededDemo:
    """A SQLite file with the demo shop seeded once per run; a test that asks for `demo` starts from a copy of it
    (seeding took most of a second per test)."""
    folder = tmp_path_factory.mktemp("demo-template")
    path = folder / "hub.db"
    shutil.copyfile(migrated_sqlite, path)
    creds, shop = asyncio.run(_seed_template(f"sqlite+aiosqlite:///{path}", folder / "data"))
    return SeededDemo(str(path), creds, shop)


@pytest.fixture(scope="session")
def demo_postgres(migrated_postgres: str) -> Iterator[SeededDemo]:
    """The Postgres twin of `demo_sqlite`: a template database with the demo shop seeded once per run."""
    with postgres_database("hub_tpl_demo", template=migrated_postgres) as url, tempfile.TemporaryDirectory() as tmp:
        creds, shop = asyncio.run(_seed_template(url, Path(tmp) / "data"))
        yield SeededDemo(make_url(url).database or "", creds, shop)


@pytest.fixture
def migrated_url(database_url: str, request: pytest.FixtureRequest) -> str:
    """The test's database, migrated: a copy of a template migrated once per run (migrating each of ~340
    databases took over a minute), or of one with the demo shop seeded when the test asks for `demo`."""
    url = make_url(database_url)
    seeded = "demo" in request.fixturenames
    if url.get_backend_name() == "sqlite":
        target = Path(url.database or "")
        if not target.exists():
            source = (
                request.getfixturevalue("demo_sqlite").template
                if seeded
                else request.getfixturevalue("migrated_sqlite")
            )
            shutil.copyfile(source, target)
    else:
        template = (
            request.getfixturevalue("demo_postgres").template
            if seeded
            else request.getfixturevalue("migrated_postgres")
        )
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{url.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{url.database}" TEMPLATE "{template}"')
    return database_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test's database; `upgrade` only confirms the copied schema is at head."""
    eng = create_engine(migrated_url)
    await upgrade(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with session_factory(engine)() as s:
        yield s


@dataclass
class Shop:
    tenant_id: uuid.UUID
    slug: str
    storefront_key: str
    operator_key: str
    admin_key: str
    sku: str
    order_number: str


async def make_shop(session: AsyncSession, slug: str, *, sku: str = "SKU-1", price: str = "10.00") -> Shop:
    """Create a small tenant: one product, one customer with one shipped order, a key of each role."""
    tenant = await admin.create_tenant(session, name=f"{slug.title()} Shop", slug=slug)
    session.add(
        m.Product(tenant_id=tenant.id, sku=sku, title=f"{slug} tee", category="T-shirts", price=Decimal(price), stock=3)
    )
    customer = m.Customer(tenant_id=tenant.id, email=f"jane@{slug}.example.com", name="Jane Doe")
    session.add(customer)
    await session.flush()
    now = datetime.now(UTC)
    session.add(
        m.Order(
            tenant_id=tenant.id,
            number="A-10001",
            customer_id=customer.id,
            status=m.OrderStatus.SHIPPED,
            items=[{"sku": sku, "title": f"{slug} tee", "quantity": 1, "unit_price": price}],
            subtotal=Decimal(price),
            shipping=Decimal("0"),
            total=Decimal(price),
            carrier="UPS",
            tracking_number=f"1Z{slug.upper()}",
            eta=date.today(),
            placed_at=now,
            updated_at=now,
        )
    )
    keys = {}
    for role in m.ApiKeyRole:
        _, keys[role] = await admin.issue_key(session, tenant_id=tenant.id, role=role)
    await session.commit()
    return Shop(
        tenant_id=tenant.id,
        slug=slug,
        storefront_key=keys[m.ApiKeyRole.STOREFRONT],
        operator_key=keys[m.ApiKeyRole.OPERATOR],
        admin_key=keys[m.ApiKeyRole.ADMIN],
        sku=sku,
        order_number="A-10001",
    )


@pytest.fixture
async def shops(session: AsyncSession) -> tuple[Shop, Shop]:
    """Two tenants whose product SKU and order number collide on purpose."""
    return await make_shop(session, "alpha", price="10.00"), await make_shop(session, "bravo", price="99.00")


@pytest.fixture
def cli_settings(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The settings an in-process `hub` command (typer's CliRunner) reads from the environment: the test database."""
    for name in ("HUB_REDIS_URL", "HUB_LLM_BASE_URL", "HUB_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def app_settings(tmp_path: Path, database_url: str, request: pytest.FixtureRequest) -> Settings:
    """Settings for an app on the test database; Redis is the real server for Postgres runs."""
    if make_url(database_url).get_backend_name() == "postgresql":
        redis_for_app = request.getfixturevalue("redis_url")
    else:
        redis_for_app = request.getfixturevalue("embedded_redis").url
    return Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=redis_for_app)


@pytest.fixture
async def api(app_settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the full app, lifespan included."""
    app = create_app(app_settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
            yield client


@pytest.fixture
async def demo(
    engine: AsyncEngine, tmp_path: Path, database_url: str, request: pytest.FixtureRequest
) -> DemoCredentials:
    """The seeded demo shop (the test's database is a copy of a template seeded once per run, see `migrated_url`)
    with one reference photo, the sample SKU's (photo requests check it is on disk); rendering all 240 would cost
    every test seconds."""
    backend = make_url(database_url).get_backend_name()
    seeded: SeededDemo = request.getfixturevalue("demo_sqlite" if backend == "sqlite" else "demo_postgres")
    sample = next(p for p in seeded.shop.products if p["stock"] > 0)  # how the seed picks `sample_sku`
    media = Settings(data_dir=tmp_path / "data").media_dir / seeded.creds.tenant_id
    demo_seed.write_images(replace(seeded.shop, products=[sample]), media)
    return seeded.creds
