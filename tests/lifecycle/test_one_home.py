"""The lifecycle rules that had two homes each have one: the lifecycle calls the owner's definition."""

from pathlib import Path

from lifecycle.renewal import SCAN_SQL
from orders.models import Order

ROOT = Path(__file__).resolve().parents[2]


def sources(app: str) -> dict[str, str]:
    return {
        path.relative_to(ROOT).as_posix(): path.read_text()
        for path in sorted((ROOT / app).rglob("*.py"))
        if "migrations" not in path.parts
    }


def test_the_replacement_is_told_by_the_orders_submission_only():
    assert [path for path, text in sources("lifecycle").items() if "REPLACEMENT_ORDERED" in text] == []


def test_the_renewal_scan_asks_the_orders_which_order_is_under_way():
    assert [state for state in Order.State.values if f"'{state}'" in SCAN_SQL] == []
    assert "%(under_way)s" in SCAN_SQL


def test_the_api_holds_no_rule_of_who_may_read_or_act():
    api = sources("lifecycle")["lifecycle/api.py"]
    assert "core.roles" not in api and "Role." not in api and "handle_exception" not in api


def test_each_module_holds_under_500_lines():
    too_long = {
        path: text.count("\n")
        for app in ("cards", "lifecycle")
        for path, text in sources(app).items()
        if text.count("\n") >= 500
    }
    assert too_long == {}
