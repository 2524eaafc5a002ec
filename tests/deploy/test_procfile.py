"""The process definitions of deploy/ start the real processes: gunicorn web, Celery worker and beat."""

import pytest
from celery import Celery

from tests.processes import free_port, http_status, processes, procfile, stack_environment, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_procfile_starts_web_worker_and_beat(tmp_path):
    port = free_port()
    broker = "redis://127.0.0.1:6379/11"
    env = stack_environment(tmp_path, broker, CPX_WEB_BIND=f"127.0.0.1:{port}", CPX_WEB_WORKERS="2")
    specs = {name: command for name, command in procfile().items() if name in {"web", "worker", "beat"}}
    assert set(specs) == {"web", "worker", "beat"}
    with processes(specs, env, tmp_path) as running:
        wait_for(lambda: http_status(f"http://127.0.0.1:{port}/healthz") == 200, 60, "gunicorn to answer")
        client = Celery(broker=broker, set_as_current=False)  # never the app the tests publish with
        assert wait_for(lambda: client.control.ping(timeout=1.0), 60, "the worker to answer a ping")
        wait_for(lambda: "beat: Starting" in running["beat"].output(), 30, "beat to start")
        assert all(process.alive() for process in running.values()), {
            name: process.output()[-2000:] for name, process in running.items()
        }
