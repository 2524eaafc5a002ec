"""A lower layer asks for an upper layer's task by its name only."""

from celery import current_app, shared_task

from core.tasks import send_task

RAN: list[int] = []


@shared_task(name="tests.core.record")
def record(value: int) -> None:
    RAN.append(value)


def test_it_runs_the_named_task_in_place_when_tasks_are_eager(monkeypatch):
    monkeypatch.setitem(current_app.conf, "task_always_eager", True)
    RAN.clear()
    send_task("tests.core.record", 7)
    assert RAN == [7]


def test_it_sends_the_named_task_to_the_broker_otherwise(monkeypatch):
    monkeypatch.setitem(current_app.conf, "task_always_eager", False)
    sent = []
    monkeypatch.setattr(
        current_app, "send_task", lambda name, args, **options: sent.append((name, args, options))
    )
    send_task("stations.schedule_production", 42, queue="default")
    assert sent == [("stations.schedule_production", (42,), {"queue": "default"})]
