"""Codes without a stored PUK (lifecycle.codes): the codes letter re-issued and the help-desk unblock, each
through a second person's approval, the token work done by the signing service (inline here)."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from approvals import errors as approval_errors
from approvals import services as approvals
from cards.errors import CardNotFound, InvalidCardState
from cards.models import Card, CardEvent, Mailer
from core.errors import InvalidInput, NotPermitted
from core.formats import format_money
from lifecycle import codes, helpdesk, printing
from lifecycle.models import CodesReissue, UnblockRequest
from notifications.models import Notification
from pki import unblock
from registry.models import Account
from tests.factories import persona

from .test_codes_keys import agent_challenge, agent_puk

pytestmark = pytest.mark.django_db

CHECK = "Rappelé au numéro du registre ; date de naissance et RPPS vérifiés."


@pytest.fixture(autouse=True)
def unblock_keys(pki_dir):
    unblock.ensure_keys()


@pytest.fixture
def audited(monkeypatch):
    """The audit log's appends, recorded (and still made)."""
    from audit import log as audit_log

    calls: list[tuple[str, dict]] = []
    real = audit_log.append

    def spy(action, **kwargs):
        calls.append((action, kwargs))
        return real(action, **kwargs)

    monkeypatch.setattr(audit_log, "append", spy)
    return calls


@pytest.fixture
def ans2(db):
    return persona(Account.Role.ANS_OPERATOR)


def approve(request_id, approver, django_capture_on_commit_callbacks):
    """The second person approves; the signing service's task runs once the decision commits."""
    with django_capture_on_commit_callbacks(execute=True):
        return approvals.decide(request_id=request_id, actor=approver, approve=True)


def printed_puk(pdf: bytes) -> str:
    found = re.search(rb"PUK\\\) : (\d{8})", pdf)
    assert found, "no PUK in this letter"
    assert not re.search(rb"PIN\\\) : \d{4}", pdf), "a re-issued letter carries no PIN"
    return found.group(1).decode()


# --- the codes letter re-issued --------------------------------------------------------------------


def test_a_holder_asks_an_operator_approves_and_the_print_run_posts_the_puk(
    card, holder_of, cnom, tmp_path, audited, django_capture_on_commit_callbacks
):
    holder = holder_of(card)
    reissue = codes.codes_reissue_request(card=card, actor=holder, identity_check=CHECK)
    assert reissue.requested_via == "holder" and reissue.state == "pending" and reissue.fee is None
    assert not Mailer.objects.filter(card=card, kind="codes").exists()
    with pytest.raises(NotPermitted):  # a holder decides nothing
        approvals.decide(request_id=reissue.approval_id, actor=holder, approve=True)

    approve(reissue.approval_id, cnom, django_capture_on_commit_callbacks)
    reissue.refresh_from_db()
    assert reissue.state == "produced" and reissue.mailer.kind == "codes"
    # Sealed: a Fernet token (URL-safe base64, which has no "%"), never the PDF in clear. (Searching the
    # token for b"PUK" failed now and then: base64 can spell it by chance.)
    assert b"%PDF" not in bytes(reissue.mailer.content)
    assert [a for a, _ in audited if a == "codes.reissued"] == ["codes.reissued"]
    detail = next(kw["detail"] for a, kw in audited if a == "codes.reissued")
    assert detail["reissue"] == reissue.pk and detail["approval"] == reissue.approval_id
    told = Notification.objects.filter(recipient=card.professional, event="codes_reissued")
    assert told.exists() and told.first().context["reference"] == reissue.reference

    run = printing.pin_mailers_print(out_dir=tmp_path)  # no shipment to wait for
    assert run.printed == 1
    assert printed_puk(run.files[0].read_bytes()) == unblock.puk_for(card.number, card.puk_key_version)
    reissue.mailer.refresh_from_db()
    assert reissue.mailer.printed_at is not None and reissue.mailer.content is None  # purged once printed
    assert reissue.state == "printed"
    assert printing.pin_mailers_print(out_dir=tmp_path).printed == 0
    assert CardEvent.objects.filter(card=card, kind="codes_letter_printed").exists()


def test_an_operator_asks_for_the_holder_with_a_recorded_identity_check(
    card, ans, ans2, django_capture_on_commit_callbacks
):
    with pytest.raises(InvalidInput) as refused:
        codes.codes_reissue_request(card=card, actor=ans, identity_check="ok")
    assert refused.value.code == "identity_check_required"
    reissue = codes.codes_reissue_request(card=card, actor=ans, identity_check=CHECK)
    assert reissue.requested_via == "operator" and reissue.identity_check == CHECK
    with pytest.raises(approval_errors.SelfApproval):
        approvals.decide(request_id=reissue.approval_id, actor=ans, approve=True)
    approve(reissue.approval_id, ans2, django_capture_on_commit_callbacks)
    reissue.refresh_from_db()
    assert reissue.state == "produced"


def test_no_letter_without_the_approval(card, holder_of, cnom):
    reissue = codes.codes_reissue_request(card=card, actor=holder_of(card), identity_check=CHECK)
    with pytest.raises(approval_errors.ApprovalRequired):
        codes.codes_letter_produce(reissue_id=reissue.pk)
    approvals.decide(request_id=reissue.approval_id, actor=cnom, approve=False, comment="non")
    with pytest.raises(approval_errors.ApprovalRequired):
        codes.codes_letter_produce(reissue_id=reissue.pk)
    reissue.refresh_from_db()
    assert reissue.state == "rejected" and not Mailer.objects.filter(card=card, kind="codes").exists()


@pytest.mark.parametrize("state", [Card.State.OPPOSED, Card.State.REVOKED, Card.State.EXPIRED])
def test_a_card_that_is_no_longer_live_has_no_codes_to_send(card, holder_of, ans, state):
    Card.objects.filter(pk=card.pk).update(state=state)
    for actor in (holder_of(card), ans):
        with pytest.raises(InvalidCardState):
            codes.codes_reissue_request(card=card.pk, actor=actor, identity_check=CHECK)
    assert not CodesReissue.objects.exists()


@pytest.mark.parametrize("state", [Card.State.PERSONALIZED, Card.State.SHIPPED, Card.State.ACTIVE])
def test_a_live_card_may_have_its_codes_sent_again(card, ans, state):
    Card.objects.filter(pk=card.pk).update(state=state)
    assert codes.codes_reissue_request(card=card.pk, actor=ans, identity_check=CHECK).state == "pending"


def test_a_letter_approved_for_a_card_opposed_since_is_not_printed(
    card, holder_of, cnom, tmp_path, django_capture_on_commit_callbacks
):
    reissue = codes.codes_reissue_request(card=card, actor=holder_of(card), identity_check=CHECK)
    approve(reissue.approval_id, cnom, django_capture_on_commit_callbacks)
    Card.objects.filter(pk=card.pk).update(state=Card.State.OPPOSED)
    assert printing.pin_mailers_print(out_dir=tmp_path).printed == 0


def test_strangers_do_not_see_the_card(card, holder_of):
    oni = persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI")
    other_holder = persona(Account.Role.HOLDER)
    manager = persona(Account.Role.STRUCTURE_MANAGER)
    auditor = persona(Account.Role.AUDITOR)
    for stranger in (oni, other_holder, manager, auditor):
        with pytest.raises(CardNotFound):
            codes.codes_reissue_request(card=card, actor=stranger, identity_check=CHECK)
    assert not CodesReissue.objects.exists()


def test_the_card_authority_operators_and_ans_help_desk_act_for_the_card(card, cnom, ans):
    assert codes.operator_may_act(cnom, card) and codes.operator_may_act(ans, card)
    assert not codes.operator_may_act(persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI"), card)


def test_the_fee_follows_the_policy(card, ans, ans2, settings, django_capture_on_commit_callbacks):
    assert codes.reissue_fee() is None  # the default: free
    settings.CPX_CODES_REISSUE_FEE = "15"
    reissue = codes.codes_reissue_request(card=card, actor=ans, identity_check=CHECK)
    assert str(reissue.fee) == "15.00" and format_money(15) in reissue.approval.summary
    approve(reissue.approval_id, ans2, django_capture_on_commit_callbacks)
    told = Notification.objects.get(recipient=card.professional, event="codes_reissued", channel="in_app")
    assert told.context["amount"] == "15.00"


def test_the_sweep_sends_the_signing_service_the_letters_it_missed(card, ans, ans2, monkeypatch):
    sent = []
    monkeypatch.setattr(codes, "run_signing_task", lambda name, *args: sent.append((name, args)))
    reissue = codes.codes_reissue_request(card=card, actor=ans, identity_check=CHECK)
    approvals.decide(request_id=reissue.approval_id, actor=ans2, approve=True)  # on-commit task lost
    assert codes.codes_sweep()["letters"] == 0  # not yet: the task may still be on its way
    CodesReissue.objects.filter(pk=reissue.pk).update(approved_at=timezone.now() - dt.timedelta(minutes=6))
    assert codes.codes_sweep()["letters"] == 1 and sent == [(codes.CODES_LETTER_TASK, (reissue.pk,))]


# --- the help-desk unblock -------------------------------------------------------------------------


def test_the_help_desk_response_unblocks_after_a_second_operator_approves(
    card, ans, cnom, audited, django_capture_on_commit_callbacks
):
    key, challenge = agent_challenge()
    row = helpdesk.unblock_request_open(
        card=card, actor=ans, challenge=challenge.lower(), identity_check=CHECK
    )
    assert row.state == "pending" and row.challenge == challenge.replace("-", "")
    with pytest.raises(approval_errors.ApprovalRequired):
        helpdesk.unblock_response_reveal(unblock_request=row.pk, actor=ans)

    approve(row.approval_id, cnom, django_capture_on_commit_callbacks)
    row.refresh_from_db()
    assert row.state == "ready" and row.response_sealed
    with pytest.raises(NotPermitted):  # the approver does not see it: only the requester
        helpdesk.unblock_response_reveal(unblock_request=row.pk, actor=cnom)

    response = helpdesk.unblock_response_reveal(unblock_request=row.pk, actor=ans)
    assert agent_puk(key, response, card.number) == unblock.puk_for(card.number, card.puk_key_version)
    row.refresh_from_db()
    assert row.state == "shown" and row.response_sealed is None and row.shown_at is not None
    with pytest.raises(helpdesk.ResponseGone):
        helpdesk.unblock_response_reveal(unblock_request=row.pk, actor=ans)
    steps = [kw["detail"]["step"] for a, kw in audited if a == "card.unblock_response"]
    assert steps == ["sealed", "shown"]
    assert Notification.objects.filter(recipient=card.professional, event="card_unblock_response").exists()


def test_without_a_second_approver_there_is_no_response(card, ans):
    _key, challenge = agent_challenge()
    row = helpdesk.unblock_request_open(card=card, actor=ans, challenge=challenge, identity_check=CHECK)
    with pytest.raises(approval_errors.SelfApproval):
        approvals.decide(request_id=row.approval_id, actor=ans, approve=True)
    with pytest.raises(approval_errors.ApprovalRequired):  # the signing service checks it again
        helpdesk.unblock_response_compute(unblock_request_id=row.pk)
    with pytest.raises(approval_errors.ApprovalRequired):
        helpdesk.unblock_response_reveal(unblock_request=row.pk, actor=ans)
    row.refresh_from_db()
    assert row.response_sealed is None and row.answered_at is None


def test_a_bad_challenge_is_refused_and_a_challenge_serves_once(
    card, ans, cnom, django_capture_on_commit_callbacks
):
    with pytest.raises(unblock.BadChallenge):
        helpdesk.unblock_request_open(card=card, actor=ans, challenge="ABCD-EFGH", identity_check=CHECK)
    _key, challenge = agent_challenge()
    row = helpdesk.unblock_request_open(card=card, actor=ans, challenge=challenge, identity_check=CHECK)
    approve(row.approval_id, cnom, django_capture_on_commit_callbacks)
    with pytest.raises(helpdesk.ChallengeUsed):
        helpdesk.unblock_request_open(
            card=card, actor=ans, challenge=challenge.replace("-", ""), identity_check=CHECK
        )


def test_only_operators_open_a_help_desk_unblock(card, holder_of):
    _key, challenge = agent_challenge()
    with pytest.raises(NotPermitted):
        helpdesk.unblock_request_open(
            card=card, actor=holder_of(card), challenge=challenge, identity_check=CHECK
        )
    with pytest.raises(CardNotFound):
        helpdesk.unblock_request_open(
            card=card,
            actor=persona(Account.Role.AUTHORITY_OPERATOR, authority="ONI"),
            challenge=challenge,
            identity_check=CHECK,
        )
    assert not UnblockRequest.objects.exists()


def test_a_response_left_unseen_is_purged(card, ans, cnom, settings, django_capture_on_commit_callbacks):
    _key, challenge = agent_challenge()
    row = helpdesk.unblock_request_open(card=card, actor=ans, challenge=challenge, identity_check=CHECK)
    approve(row.approval_id, cnom, django_capture_on_commit_callbacks)
    assert helpdesk.helpdesk_sweep()["purged"] == 0
    late = timezone.now() - dt.timedelta(minutes=settings.CPX_UNBLOCK_RESPONSE_MINUTES + 1)
    UnblockRequest.objects.filter(pk=row.pk).update(answered_at=late)
    from lifecycle.tasks import codes_sweep

    assert codes_sweep() == {"letters": 0, "purged": 1, "responses": 0}
    row.refresh_from_db()
    assert row.state == "purged" and row.response_sealed is None
    with pytest.raises(helpdesk.ResponseGone):
        helpdesk.unblock_response_reveal(unblock_request=row.pk, actor=ans)


def test_a_late_reveal_purges_instead_of_showing(
    card, ans, cnom, settings, django_capture_on_commit_callbacks
):
    _key, challenge = agent_challenge()
    row = helpdesk.unblock_request_open(card=card, actor=ans, challenge=challenge, identity_check=CHECK)
    approve(row.approval_id, cnom, django_capture_on_commit_callbacks)
    late = timezone.now() - dt.timedelta(minutes=settings.CPX_UNBLOCK_RESPONSE_MINUTES + 1)
    UnblockRequest.objects.filter(pk=row.pk).update(answered_at=late)
    with pytest.raises(helpdesk.ResponseGone):
        helpdesk.unblock_response_reveal(unblock_request=row.pk, actor=ans)
    row.refresh_from_db()
    assert row.state == "purged" and row.response_sealed is None


def test_a_card_opposed_before_the_approval_gets_no_response(card, ans, cnom):
    _key, challenge = agent_challenge()
    row = helpdesk.unblock_request_open(card=card, actor=ans, challenge=challenge, identity_check=CHECK)
    Card.objects.filter(pk=card.pk).update(state=Card.State.OPPOSED)
    with pytest.raises(InvalidCardState):  # the approval is refused; the approver rejects it instead
        approvals.decide(request_id=row.approval_id, actor=cnom, approve=True)
    row.refresh_from_db()
    assert row.approval.state == "pending" and row.answered_at is None
