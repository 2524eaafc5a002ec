from django.core.management.base import BaseCommand, CommandError

from stations import personalization
from stations.models import ReaderStation


class Command(BaseCommand):
    help = "Personalize one queued order on a station, in this process (what the station's task does)."

    def add_arguments(self, parser):
        parser.add_argument("order_id", type=int)
        parser.add_argument("--station", required=True)

    def handle(self, *args, order_id, station, **options):
        found = ReaderStation.objects.filter(name=station).first()
        if found is None:
            raise CommandError(f"no station {station}")
        card = personalization.personalize_order(order_id=order_id, station=found)
        self.stdout.write(f"order {order_id}: card {card.number if card else 'none'}")
