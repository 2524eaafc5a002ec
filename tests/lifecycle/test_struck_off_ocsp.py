"""A holder struck off by a full extraction: the moment registry_import returns, the OCSP responder answers
``revoked`` for their certificates and the published delta CRL lists them (checked with the real openssl
against a live server), with no nightly batch in between."""

import pytest

from cards.models import Card
from orders.models import Order
from registry.models import Exercise
from registry.services import registry_import
from tests.factories import CardFactory
from tests.registry.conftest import OPTICIAN, SAMPLE, sample_rows

from .test_opposition_pki import _crls, _ocsp, _pem, _verify

pytestmark = pytest.mark.django_db(transaction=True)


def test_ocsp_answers_revoked_right_after_the_import(
    live_server, certified, pem_files, tmp_path, write_extraction, settings
):
    settings.CPX_IMPORT_MAX_DEACTIVATION_SHARE = 0.5
    registry_import(path=SAMPLE)
    exercise = Exercise.objects.get(professional__national_id=OPTICIAN)
    Order.objects.filter(exercise=exercise).delete()
    card = CardFactory(exercise=exercise)
    chain, issuer = pem_files
    certs = [_pem(tmp_path, f"{c.usage}.pem", bytes(c.der)) for c in certified(card)]
    for cert in certs:
        assert f"{cert}: good" in _ocsp(live_server, issuer, chain, cert)

    registry_import(path=write_extraction([row for row in sample_rows() if row[2] != OPTICIAN]), full=True)

    assert Card.objects.get(pk=card.pk).state == Card.State.REVOKED
    crl, _delta = _crls(live_server, tmp_path)
    for cert in certs:
        out = _ocsp(live_server, issuer, chain, cert)
        assert "Response verify OK" in out and f"{cert}: revoked" in out, out
        assert "Reason: cessationOfOperation" in out, out
        assert "certificate revoked" in _verify(chain, crl, cert)
