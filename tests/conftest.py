import pytest
from django.db.backends.signals import connection_created

# Under CI=true a skipped test fails (tests/ci_plugin.py).
pytest_plugins = ["tests.ci_plugin", "tests.browser_plugin"]


def _audit_log_resettable(sender, connection, **kwargs) -> None:
    """The audit log's tables refuse TRUNCATE (audit migration 0001), except in a test database to a session
    that asks: the flush that empties every table after a transactional test."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET cpx.audit_allow_truncate = on")


connection_created.connect(_audit_log_resettable, dispatch_uid="tests_audit_log_resettable")


@pytest.fixture
def code_tables(db):
    """The code tables are loaded by migration; this fixture only makes the dependency explicit."""
    from registry.models import Authority

    assert Authority.objects.filter(code="ANS").exists()


@pytest.fixture(autouse=True)
def _broker_circuit_closed():
    """The outbox stops publishing for a while after a broker failure (a process-wide breaker). A test that
    simulated an outage must not leave the next tests' messages to a sweep that never runs in them."""
    from notifications.services import BrokerCircuit

    BrokerCircuit.down_until = 0.0
    yield
    BrokerCircuit.down_until = 0.0


@pytest.fixture(autouse=True)
def _platform_celery_app():
    """Shared tasks publish through Celery's *current* app: creating another app (a test's ping client, say)
    makes it current and would send every later task to that app's broker. Each test starts with ours."""
    from config.celery import app

    app.set_current()
    app.set_default()
    yield


@pytest.fixture(autouse=True)
def _signing_inline(settings):
    """The signing service's tasks run in the test's process (a test of the real signer process turns this
    off and starts one)."""
    settings.CPX_SIGNING_INLINE = True


@pytest.fixture(autouse=True)
def _rate_limit_counters(settings, request):
    """Rate-limit counters (core.ratelimit) of this test only: a prefix of this process and test, so no other
    test, and no other test run on this machine sharing the Redis, ever finds counters it did not make."""
    import os
    import uuid

    from core import ratelimit

    settings.CPX_RATE_LIMIT_PREFIX = f"cpx:test-ratelimit:{os.getpid()}:{uuid.uuid4().hex[:12]}:"
    yield
    ratelimit.reset()


@pytest.fixture
def received():
    """Every request line the live server received (its thread runs in this process): for the tests that
    check a secret in a link's fragment never reaches the server (the renewal and decline links)."""
    from django.core.signals import request_started

    lines: list[str] = []

    def record(sender, environ, **kwargs):
        query = environ.get("QUERY_STRING", "")
        lines.append(f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}{'?' + query if query else ''}")

    request_started.connect(record)
    try:
        yield lines
    finally:
        request_started.disconnect(record)
