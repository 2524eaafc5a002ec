import os
import threading

from celery import current_app
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from pki import hsm, unblock
from stations import personalization, services
from stations.models import ReaderStation


class Command(BaseCommand):
    help = "Run a reader station: a Celery worker consuming only its queue station.<name>, with a heartbeat."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--concurrency", type=int, default=0, help="default: one process per reader")
        parser.add_argument("--heartbeat", type=int, default=30, help="seconds between heartbeats")
        parser.add_argument("--loglevel", default="INFO")

    def handle(self, *args, name, concurrency, heartbeat, loglevel, **options):
        station = ReaderStation.objects.filter(name=name).first()
        if station is None:
            raise CommandError(f"no station {name}: register it with station_register")
        if station.softhsm_conf:
            os.environ["SOFTHSM2_CONF"] = station.softhsm_conf
        try:  # every card's PUK and help-desk key come from the unblock token: no station without it
            unblock.helpdesk_public_key(unblock.current_version())
        except hsm.TokenUnavailable as exc:
            raise CommandError(f"the station cannot open the unblock token: {exc}") from None
        handed_back = personalization.station_recover(station=station)
        if handed_back:
            self.stdout.write(f"recovered interrupted jobs; orders handed back: {handed_back}")
        processes = concurrency or max(station.readers.count(), 1)
        stop = threading.Event()
        threading.Thread(target=self._beat, args=(station, heartbeat, stop), daemon=True).start()
        argv = ["worker", "-Q", station.queue, "-n", f"{station.name}@%h", "-c", str(processes)]
        try:
            # The platform's app, configured by config/celery.py (loaded with the config package).
            current_app.worker_main([*argv, "--loglevel", loglevel, "--without-gossip", "--without-mingle"])
        finally:
            stop.set()
            ReaderStation.objects.filter(pk=station.pk).update(state=ReaderStation.State.OFFLINE)

    def _beat(self, station: ReaderStation, every: int, stop: threading.Event) -> None:
        while not stop.is_set():
            close_old_connections()
            services.station_heartbeat(station=station)
            stop.wait(every)
