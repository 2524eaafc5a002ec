"""The order rules that had several homes each have one, which every entry point calls."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ["registry", "notifications", "pki", "cards", "orders", "stations", "lifecycle", "ecps", "portal"]


def application_sources():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(ROOT).as_posix(), path.read_text(errors="replace")


def test_create_and_submit_is_written_once_in_order_place():
    """A caller that creates an order and submits it at once (the portal, the API, an opposition, a
    renewal) calls ``order_place``: no module but orders/services.py calls both halves itself."""
    both = [
        relative
        for relative, text in application_sources()
        if "order_create(" in text and "order_submit(" in text and relative != "orders/services.py"
    ]
    assert both == []
    placing = {relative for relative, text in application_sources() if "order_place" in text}
    assert {"orders/api.py", "portal/views/manager.py"} <= placing
