"""What the two tests left here (test_card_states, test_pin_print_run) still need, until they move to the
folders of their apps: quick password hashing (the stations' fixture)."""

from tests.stations.conftest import fast_passwords  # noqa: F401 (autouse fixture)
