"""/pki/audit/: the audit log's signed checkpoints, as the signing service stored them (the web never signs).

    /pki/audit/                              an index page (HTML)
    /pki/audit/index.json                    every checkpoint: day, seq, hash and the two files' paths
    /pki/audit/checkpoint-<day>.json         the signed document (canonical JSON, docs/audit_log.md)
    /pki/audit/checkpoint-<day>.json.p7s     its detached CMS signature (DER)
    /pki/audit/latest.json, latest.json.p7s  the newest of them

No authentication: anyone may fetch and keep them, which is the point (a checkpoint once copied elsewhere
cannot be taken back).
"""

import datetime as dt

from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_GET

from audit.models import Checkpoint

from . import locations

MAX_AGE = 300  # a new checkpoint comes once a day; a published one never changes


def _base() -> str:
    return f"{locations.pki_base_url()}/pki/audit"


def _checkpoints() -> QuerySet[Checkpoint]:
    return Checkpoint.objects.defer("document", "signature")


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    rows = format_html_join(
        "\n",
        "<li>{} : ligne {}, empreinte <code>{}</code> — "
        '<a href="{}">{}</a>, <a href="{}.p7s">signature</a></li>',
        (
            (
                f"{c.day:%Y-%m-%d}",
                c.seq,
                c.hash,
                f"{_base()}/{c.file_name}",
                c.file_name,
                f"{_base()}/{c.file_name}",
            )
            for c in _checkpoints().order_by("-day")
        ),
    )
    page = format_html(
        '<!doctype html>\n<html lang="fr"><head><meta charset="utf-8"><title>Journal d\'audit</title></head>'
        "<body>\n<h1>Journal d'audit : points de contrôle signés</h1>\n"
        "<p>Chaque jour, la dernière ligne du journal (numéro et empreinte SHA-256) est signée par la clé "
        "d'audit, certifiée par l'AC racine. Vérification : <code>openssl cms -verify -binary -inform DER "
        "-in checkpoint-AAAA-MM-JJ.json.p7s -content checkpoint-AAAA-MM-JJ.json -CAfile racine.pem "
        '-purpose any</code>. Liste : <a href="{}/index.json">index.json</a>.</p>\n<ul>\n{}\n</ul>\n'
        "</body></html>\n",
        _base(),
        rows,
    )
    return HttpResponse(
        page, content_type="text/html; charset=utf-8", headers={"Cache-Control": f"max-age={MAX_AGE}"}
    )


@require_GET
def index_json(request: HttpRequest) -> JsonResponse:
    listing = [
        {
            "day": f"{c.day:%Y-%m-%d}",
            "seq": c.seq,
            "hash": c.hash,
            "document": f"{_base()}/{c.file_name}",
            "signature": f"{_base()}/{c.file_name}.p7s",
        }
        for c in _checkpoints().order_by("day")
    ]
    return JsonResponse(
        {"version": 1, "checkpoints": listing}, headers={"Cache-Control": f"max-age={MAX_AGE}"}
    )


def _file(checkpoint: Checkpoint, signature: bool) -> HttpResponse:
    name = checkpoint.file_name + (".p7s" if signature else "")
    body = bytes(checkpoint.signature if signature else checkpoint.document)
    content_type = "application/pkcs7-signature" if signature else "application/json"
    headers = {"Content-Disposition": f'inline; filename="{name}"', "Cache-Control": f"max-age={MAX_AGE}"}
    return HttpResponse(body, content_type=content_type, headers=headers)


@require_GET
def checkpoint(request: HttpRequest, day: str, signature: bool = False) -> HttpResponse:
    try:
        found = Checkpoint.objects.filter(day=dt.date.fromisoformat(day)).first()
    except ValueError:
        found = None
    if found is None:
        raise Http404("no checkpoint for that day")
    return _file(found, signature)


@require_GET
def latest(request: HttpRequest, signature: bool = False) -> HttpResponse:
    found = Checkpoint.objects.order_by("-day").first()
    if found is None:
        raise Http404("no checkpoint yet")
    return _file(found, signature)
