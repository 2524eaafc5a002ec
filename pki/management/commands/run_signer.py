"""The signing service: the one process given the CA token's PIN (CPX_CA_TOKEN_PIN).

A Celery worker consuming only the signing queue (settings.CPX_SIGNING_QUEUE: the ``signing.*`` and
``pki.*`` tasks, routed there by CELERY_TASK_ROUTES), in one process with one thread: PKCS#11 state does not
survive a fork, and the token's session is opened here, at start, then used by every task. It refuses to
start when the CA token does not open (no PIN, wrong PIN, no token): better no signer than one that fails
every request.
"""

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pki import hsm


class Command(BaseCommand):
    help = (
        "Run the signing service: a Celery worker consuming only the signing queue, one process, "
        "holding the CA token's session (checked at start)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--loglevel", default="INFO")
        parser.add_argument("--hostname", default="signer@%h", help="the Celery worker's node name")

    def handle(self, *args, loglevel, hostname, **options):
        tok = hsm.token("ca")
        try:
            with hsm.session(tok):
                pass
        except hsm.TokenUnavailable as exc:
            raise CommandError(f"the signing service cannot open the CA token: {exc}") from None
        except Exception as exc:  # a module that does not load, a broken store
            raise CommandError(f"the signing service cannot open the CA token {tok.label}: {exc}") from None
        queue = settings.CPX_SIGNING_QUEUE
        self.stdout.write(f"signing service: CA token {tok.label} open; consuming queue {queue}")
        self.stdout.flush()
        argv = ["worker", "-Q", queue, "-n", hostname, "--pool", "threads", "--concurrency", "1"]
        # The platform's app, configured by config/celery.py (loaded with the config package).
        current_app.worker_main([*argv, "--loglevel", loglevel, "--without-gossip", "--without-mingle"])
