"""The blank stock of each station and its low-stock threshold."""

from __future__ import annotations

import pytest

from core.errors import InvalidInput, NotPermitted
from registry.models import Account
from stations.models import BlankCard, ReaderStation
from stations.stock import stock_by_station, stock_threshold_set
from tests.factories import persona

pytestmark = pytest.mark.django_db


def station_with(name: str, available: int, spoiled: int = 0, threshold: int = 50) -> ReaderStation:
    station = ReaderStation.objects.create(name=name, module="/dev/null", low_stock_threshold=threshold)
    for n in range(available + spoiled):
        state = BlankCard.State.AVAILABLE if n < available else BlankCard.State.SPOILED
        BlankCard.objects.create(station=station, number=f"8025000001{name[-1]}{n:09d}", state=state)
    return station


def test_each_station_counts_its_blanks_and_is_low_below_its_threshold():
    station_with("lyon-1", available=3, spoiled=2, threshold=5)
    station_with("paris-2", available=5, threshold=5)
    lyon, paris = stock_by_station()
    assert (lyon.station.name, lyon.available, lyon.spoiled, lyon.low) == ("lyon-1", 3, 2, True)
    assert (paris.available, paris.low) == (5, False)  # at the threshold is not below it


def test_an_ans_operator_sets_the_threshold_and_no_one_else():
    station = station_with("lyon-1", available=3)
    stock_threshold_set(station=station, threshold=2, actor=persona(Account.Role.ANS_OPERATOR))
    assert not stock_by_station()[0].low
    with pytest.raises(NotPermitted):
        stock_threshold_set(station=station, threshold=9, actor=persona(Account.Role.AUDITOR))
    with pytest.raises(InvalidInput):
        stock_threshold_set(station=station, threshold=-1, actor=persona(Account.Role.ANS_OPERATOR))
    station.refresh_from_db()
    assert station.low_stock_threshold == 2
