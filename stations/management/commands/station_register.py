from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from stations import services


class Command(BaseCommand):
    help = (
        "Register a reader station with N readers and M blank cards. With SoftHSM2 (development), the "
        "station gets its own token store under var/stations/<name>/ (SOFTHSM2_CONF), each blank an "
        "uninitialized token. The station gets its credential towards the signing service: an Ed25519 key "
        "(station-key.pem, mode 0600), its public half recorded on the station."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--readers", type=int, default=2)
        parser.add_argument(
            "--blanks",
            type=int,
            default=0,
            help="top the stock up to this many available blanks (idempotent)",
        )
        parser.add_argument("--module", default=settings.CPX_PKCS11_MODULE)
        parser.add_argument(
            "--key-file",
            default="",
            help="where the station's Ed25519 private key (PEM, 0600) is kept; "
            "default: <CPX_STATIONS_DIR>/<name>/station-key.pem. An existing key is kept.",
        )

    def handle(self, *args, name, readers, blanks, module, key_file, **options):
        if not Path(module).exists():
            raise CommandError(
                f"PKCS#11 module {module} not found (make system installs SoftHSM2 and OpenSC)"
            )
        conf = services.softhsm_store(name) if "softhsm" in module else ""
        station = services.station_register(
            name=name, module=module, readers=readers, softhsm_conf=conf, key_file=key_file
        )
        missing = blanks - station.blanks.filter(state="available").count()
        added = services.blank_stock_add(station=station, count=missing) if missing > 0 else []
        stock = station.blanks.filter(state="available").count()
        where = f", token store {conf}" if conf else ""
        self.stdout.write(
            f"station {name}: {readers} readers, {len(added)} blanks added ({stock} available), "
            f"queue {station.queue}{where}, station key {station.key_file}"
        )
