"""The dedicated OCSP responder (``pki.ocsp_server``): ``/pki/ocsp`` only, several processes on one port.

Needs only the OCSP token's PIN (CPX_OCSP_TOKEN_PIN or its _FILE) and the database. nginx sends
``location /pki/ocsp`` here (deploy/nginx.conf).
"""

import logging
import os

from django.core.management.base import BaseCommand, CommandError

from pki import ocsp_server


class Command(BaseCommand):
    help = (
        "Run the OCSP responder: an HTTP/1.1 server for /pki/ocsp (GET per RFC 5019 and POST), answers kept "
        "in memory while the LISTEN connection to PostgreSQL is up, on --processes processes (SO_REUSEPORT)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--bind",
            default=os.environ.get("CPX_OCSP_BIND", "127.0.0.1:8001"),
            help="host:port to listen on (default $CPX_OCSP_BIND or 127.0.0.1:8001)",
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=int(os.environ.get("CPX_OCSP_PROCESSES", "0")) or (os.cpu_count() or 1),
            help="responder processes (default $CPX_OCSP_PROCESSES or the number of cores)",
        )

    def handle(self, *args, bind, processes, **options):
        host, sep, port = bind.rpartition(":")
        if not sep or not port.isdigit():
            raise CommandError(f"--bind wants host:port, not {bind!r}")
        host = host.strip("[]") or "127.0.0.1"
        if not logging.getLogger("pki").handlers and not logging.getLogger().handlers:
            logging.basicConfig(
                level=logging.INFO, format="%(asctime)s %(process)d %(levelname)s %(message)s"
            )
        self.stdout.write(f"OCSP responder on http://{bind}/pki/ocsp, {processes} process(es)")
        self.stdout.flush()
        try:
            status = ocsp_server.run(host, int(port), processes)
        except OSError as exc:
            raise CommandError(f"cannot listen on {bind}: {exc}") from None
        if status:
            raise CommandError("the OCSP responder could not start (see the log above)")
