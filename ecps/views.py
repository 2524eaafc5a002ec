"""The e-CPS pages: the holder's e-CPS beside their cards, activation (card or codes), the registration
of the passkey on the phone, sign-in with it at the provider, and relying parties for ANS operators.

Views authenticate, validate, call one service and write what follows its success: a domain error becomes
a message on the page the holder came from (``core.web.DomainErrorMiddleware``), or, for the WebAuthn
ceremony's calls, its JSON answer (``json_errors``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import parse_qs, urlsplit

import segno
from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from oauth2_provider.models import get_application_model

from cards import proof
from cards.models import Card
from cards.scoping import cards_visible_to
from core.errors import DomainError, InvalidInput
from core.roles import RELYING_PARTY_MANAGERS, RELYING_PARTY_READERS, Role
from core.web import for_roles
from registry.models import Account

from . import activation, enrolment, errors, services
from . import relying_parties as parties
from . import signin as signing_in
from .models import Activation, ECps
from .provider import mark_signed_in
from .scoping import ecps_visible_to

ENROLMENT_KEY = "ecps_enrolment"
CHALLENGE_KEY = "ecps_signin_challenge"


# --- the holder's page ----------------------------------------------------------------------------------


@for_roles(Role.HOLDER)
def holder(request: HttpRequest, account: Account) -> HttpResponse:
    person = account.professional
    assert person is not None  # a holder's account always names the person (Account constraint)
    cards = list(cards_visible_to(request.user).order_by("-valid_until", "-pk"))
    ecps = list(ECps.objects.filter(holder=person).order_by("-created_at"))
    rows = [
        {
            "exercise": exercise,
            "cards": [c for c in cards if c.exercise_id == exercise.pk],
            "ecps": [e for e in ecps if e.exercise_id == exercise.pk],
            "live": next(
                (e for e in ecps if e.exercise_id == exercise.pk and e.state in services.LIVE), None
            ),
            "has_active_card": any(
                c.exercise_id == exercise.pk and c.state == Card.State.ACTIVE for c in cards
            ),
        }
        for exercise in person.exercises.select_related("profession").order_by("pk")
    ]
    context = {"rows": rows, "sign_ins": signing_in.sign_ins_of(professional=person, limit=10)}
    return render(request, "ecps/holder.html", context)


@require_POST
@for_roles(Role.HOLDER)
def activate_with_card(request: HttpRequest, exercise_id: int, account: Account) -> HttpResponse:
    started = activation.activation_start_with_card(actor=request.user, exercise_id=exercise_id)
    return redirect("ecps:card-proof", pk=started.pk)


@for_roles(Role.HOLDER)
def card_proof(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """The command that signs the challenge with the card (``cpx-card sign``, run by the holder on their
    computer: the agent asks for the PIN), then its output pasted here, checked against the card's
    certificate. Line breaks and spaces in the paste are ignored."""
    started = _own_activation(account, pk, ECps.Method.CARD)
    context: dict[str, Any] = {"activation": started, "command": activation.sign_command(started)}
    if request.method == "POST":
        signature = proof.signature_from_text(request.POST.get("signature", ""))
        if signature is None:
            context["error"] = _(
                "Paste the line that cpx-card sign printed: the card's signature, in base64."
            )
        else:
            _proven, code = activation.activation_prove_with_card(
                actor=request.user, activation_id=started.pk, signature=signature
            )
            return _show_code(request, started, code)
    return render(request, "ecps/card_proof.html", context)


@require_POST
@for_roles(Role.HOLDER)
def activate_with_codes(request: HttpRequest, exercise_id: int, account: Account) -> HttpResponse:
    started = activation.activation_start_with_codes(actor=request.user, exercise_id=exercise_id)
    return redirect("ecps:codes-proof", pk=started.pk)


@for_roles(Role.HOLDER)
def codes_proof(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    started = _own_activation(account, pk, ECps.Method.CODES)
    if request.method == "POST":
        _proven, code = activation.activation_prove_with_codes(
            actor=request.user,
            activation_id=started.pk,
            email_code=request.POST.get("email_code", ""),
            sms_code=request.POST.get("sms_code", ""),
        )
        return _show_code(request, started, code)
    return render(request, "ecps/codes_proof.html", {"activation": started})


def _own_activation(account: Account, pk: int, method: str) -> Activation:
    own = Activation.objects.filter(pk=pk, holder=account.professional, method=method).first()
    if own is None:
        raise Http404
    return own


@sensitive_variables("code", "url")
def _show_code(request: HttpRequest, proven: Activation, code: str) -> HttpResponse:
    """The activation code as a QR code (scanned by the phone), valid 90 seconds, shown this once.

    The code never travels in a URL a server sees: the QR code carries it in the fragment
    (``/ecps/enrol/#code=…``, which browsers never send; the page moves it into its form and wipes it
    from the address bar), and "Use this device" posts it."""
    url = request.build_absolute_uri(reverse("ecps:enrol")) + f"#code={code}"
    svg = segno.make(url, error="m").svg_inline(scale=5, title=_("e-CPS activation code"))
    context = {
        "activation": proven,
        "code": activation.display_code(code),
        "raw_code": code,
        "qr": mark_safe(svg),  # noqa: S308 - segno's own SVG of our URL
        "seconds": int((proven.code_expires_at - proven.proven_at).total_seconds())
        if proven.code_expires_at and proven.proven_at
        else 90,
    }
    response = render(request, "ecps/activation_code.html", context)
    response["Cache-Control"] = "no-store"
    return response


@for_roles(Role.HOLDER)
def opposition(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    ecps = get_object_or_404(ecps_visible_to(request.user), pk=pk)
    if request.method == "POST" and request.POST.get("confirm"):
        services.ecps_declare_opposition(
            ecps=ecps, actor=request.user, reason=request.POST.get("reason", ECps.Reason.LOST)
        )
        messages.success(request, _("Your e-CPS is revoked: it can no longer sign you in."))
        return redirect("ecps:holder")
    reasons = [(ECps.Reason.LOST, _("My phone is lost")), (ECps.Reason.STOLEN, _("My phone was stolen"))]
    return render(request, "ecps/opposition.html", {"ecps": ecps, "reasons": reasons})


@require_POST
@for_roles(Role.HOLDER)
def suspension(request: HttpRequest, pk: int, account: Account) -> HttpResponse:
    """Suspend (phone misplaced) or reinstate (found) the holder's e-CPS."""
    ecps = get_object_or_404(ecps_visible_to(request.user), pk=pk)
    if request.POST.get("action") == "reinstate":
        services.ecps_reinstate(ecps=ecps, actor=request.user)
    else:
        services.ecps_suspend(ecps=ecps, actor=request.user)
    return redirect("ecps:holder")


# --- the phone: registration of the passkey -------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("code")
def enrol(request: HttpRequest) -> HttpResponse:
    """Opened from the QR code on the phone (the code in the URL's fragment, never sent here), or posted
    by "Use this device" (the code in the body): no platform sign-in here, the activation code is the
    credential. A code in the query string is ignored: it would be in every access log."""
    code = request.POST.get("code", "")[:40] if request.method == "POST" else ""
    response = render(request, "ecps/enrol.html", {"code": code})
    response["Cache-Control"] = "no-store"
    return response


def json_errors(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """The WebAuthn ceremony's calls are the page's script's: a domain error answers its JSON body
    (``{"code", "message"}``) with its status, not a redirect."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            return view(request, *args, **kwargs)
        except DomainError as exc:
            return JsonResponse(exc.body(), status=exc.status)

    return wrapped


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidInput(_("Expected a JSON object.")) from None
    if not isinstance(body, dict):
        raise InvalidInput(_("Expected a JSON object."))
    return body


@require_POST
@json_errors
def enrol_options(request: HttpRequest) -> JsonResponse:
    started, options = enrolment.enrolment_begin(code=str(_json_body(request).get("code", "")))
    request.session[ENROLMENT_KEY] = started.pk  # the registration ends on this browser only
    return JsonResponse(options)


@require_POST
@json_errors
def enrol_verify(request: HttpRequest) -> JsonResponse:
    activation_id = request.session.get(ENROLMENT_KEY)
    credential = _json_body(request).get("credential")
    if activation_id is None or not isinstance(credential, dict):
        raise errors.InvalidState(_("No registration is in progress: start again."), code="activation_closed")
    ecps = enrolment.enrolment_finish(activation_id=int(activation_id), credential=credential)
    request.session.pop(ENROLMENT_KEY, None)
    return JsonResponse({"ecps": ecps.pk, "redirect": reverse("ecps:enrolled")})


@require_GET
def enrolled(request: HttpRequest) -> HttpResponse:
    return render(request, "ecps/enrolled.html")


# --- sign-in at the provider ----------------------------------------------------------------------------


@require_GET
def signin(request: HttpRequest) -> HttpResponse:
    next_url = request.GET.get("next", "")
    return render(request, "ecps/signin.html", {"next": next_url, "service": _service_name(next_url)})


def _client_id(next_url: str) -> str:
    return (parse_qs(urlsplit(next_url).query).get("client_id") or [""])[0]


def _service_name(next_url: str) -> str:
    client_id = _client_id(next_url)
    application = get_application_model().objects.filter(client_id=client_id).first() if client_id else None
    return application.name if application else ""


@require_POST
def signin_options(request: HttpRequest) -> JsonResponse:
    options, challenge = signing_in.signin_options()
    request.session[CHALLENGE_KEY] = challenge
    return JsonResponse(options)


@require_POST
@json_errors
def signin_verify(request: HttpRequest) -> JsonResponse:
    challenge = request.session.pop(CHALLENGE_KEY, "")
    body = _json_body(request)
    next_url = str(body.get("next") or "")
    credential = body.get("credential")
    if not isinstance(credential, dict):
        raise InvalidInput(_("Expected a credential."), field="credential")
    ecps = signing_in.signin_verify(
        credential=credential,
        challenge=challenge,
        client_id=_client_id(next_url),
        ip_address=request.META.get("REMOTE_ADDR"),
    )
    user = signing_in.holder_user(ecps.holder)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    mark_signed_in(request, ecps_id=ecps.pk)
    safe = url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure())
    return JsonResponse({"redirect": next_url if next_url and safe else reverse("ecps:holder")})


# --- the demo relying party, and relying parties for ANS operators ---------------------------------------


@require_GET
def demo_rp_callback(request: HttpRequest) -> HttpResponse:
    """Where the demo relying party receives the authorization code (it exchanges it server-side)."""
    context = {"code": request.GET.get("code", ""), "error": request.GET.get("error", "")}
    return render(request, "ecps/demo_rp.html", context)


@for_roles(*RELYING_PARTY_READERS)
def relying_parties(request: HttpRequest, account: Account) -> HttpResponse:
    context: dict[str, Any] = {"can_register": account.role in RELYING_PARTY_MANAGERS}
    if request.method == "POST" and context["can_register"]:
        application, secret = parties.relying_party_register(
            actor=request.user,
            name=request.POST.get("name", ""),
            redirect_uris=request.POST.get("redirect_uris", "").split(),
            post_logout_redirect_uris=request.POST.get("post_logout_redirect_uris", "").split(),
            backchannel_logout_uri=request.POST.get("backchannel_logout_uri", ""),
            resource_server=request.POST.get("resource_server") == "on",
        )
        context.update(created=application, secret=secret)
    context["applications"] = parties.relying_parties_for(actor=request.user)
    return render(request, "ecps/relying_parties.html", context)
