import pytest


@pytest.fixture
def code_tables(db):
    """The code tables are loaded by migration; this fixture only makes the dependency explicit."""
    from registry.models import Authority

    assert Authority.objects.filter(code="ANS").exists()
