"""Use cases of card production. (The personalization pipeline is being built: see issue 4.)"""


def production_schedule(*, order_id: int) -> None:
    """Hand a queued order to a reader station (called by orders on commit when an order reaches `queued`).

    Interface contract between orders and issuance; issue 4 implements it (station choice and the job).
    """
