"""The blank cards of each station: how many are left, and whether the stock runs low (below the station's
``low_stock_threshold``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from core.errors import InvalidInput, NotPermitted
from core.roles import Role, role_of

from .models import BlankCard, ReaderStation


@dataclass(frozen=True)
class StationStock:
    station: ReaderStation
    available: int
    in_use: int
    used: int
    spoiled: int

    @property
    def threshold(self) -> int:
        return self.station.low_stock_threshold

    @property
    def low(self) -> bool:
        return self.available < self.threshold


def stock_by_station() -> list[StationStock]:
    """Every station's blank stock, by name."""
    State = BlankCard.State
    counts = {state: Count("blanks", filter=Q(blanks__state=state)) for state in State.values}
    stations = ReaderStation.objects.annotate(**counts).order_by("name")
    return [
        StationStock(
            station=station,
            available=getattr(station, State.AVAILABLE),
            in_use=getattr(station, State.IN_USE),
            used=getattr(station, State.USED),
            spoiled=getattr(station, State.SPOILED),
        )
        for station in stations
    ]


def stock_threshold_set(*, station: ReaderStation, threshold: int, actor: Any) -> ReaderStation:
    """Set the number of available blanks below which ``station``'s stock is low (ANS operators)."""
    if role_of(actor) != Role.ANS_OPERATOR:
        raise NotPermitted(_("The stations' stock is ANS's."))
    if threshold < 0 or threshold > 100_000:
        raise InvalidInput(_("The threshold is a number from 0 to 100,000."), field="threshold")
    station.low_stock_threshold = threshold
    station.save(update_fields=["low_stock_threshold"])
    return station
