"""The structure manager's pages for staff and batch orders: declaring and ending staff, the order form's
hints, and ordering from a CSV file (upload, preview, confirmation), in French."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditRecord
from orders.models import Order
from registry.models import Professional, StructureMember
from tests.factories import StructureMemberFactory
from tests.portal.test_manager import structure_catalogue  # noqa: F401  (fixture: this area's French)

pytestmark = pytest.mark.django_db

BATCH = Path(__file__).resolve().parents[1] / "orders" / "fixtures" / "batch_three_and_one_bad.csv"


def upload(client, path: Path = BATCH, content: bytes | None = None):
    data = content if content is not None else path.read_bytes()
    file = SimpleUploadedFile(path.name, data, content_type="text/csv")
    return client.post(reverse("portal:structure-batch"), {"file": file})


def test_the_staff_list_shows_the_card_for_each_role_and_the_actions(people, as_user):
    html = as_user(people.manager).get(reverse("portal:structure")).content.decode()
    member = people.staff_member
    assert "Déclarer un membre du personnel" in html and "Commander par lot (fichier CSV)" in html
    assert f'href="{reverse("portal:structure-order")}?member={member.pk}"' in html
    assert reverse("portal:structure-staff-end", args=[member.pk]) in html
    assert "Personnel d&#x27;établissement" in html or "Personnel d'établissement" in html
    assert "export-links" in html  # the staff list's CSV/XLSX exports


def test_declaring_a_staff_member_then_ordering_their_card(people, as_user):
    client = as_user(people.manager)
    data = {"civility": "MME", "last_name": "Lefèvre", "first_name": "Élodie", "role": "staff"}
    response = client.post(reverse("portal:structure-staff-new"), data | {"mobile": "0611223344"})
    member = StructureMember.objects.get(professional__last_name="LEFÈVRE")
    assert response["Location"] == f"{reverse('portal:structure-order')}?member={member.pk}"
    form = client.get(response["Location"]).content.decode()
    assert re.search(rf'<option value="{member.pk}" selected>', form)
    assert re.search(r'value="CPE"[^>]*checked', form)
    assert member.professional.national_id.startswith("3" + people.staff_member.structure.finess_site + "/")
    assert AuditRecord.objects.filter(action="structure.staff_declared", object_id=str(member.pk)).exists()


def test_a_bad_declaration_is_shown_on_its_field_in_french(people, as_user):
    data = {"last_name": "Roux", "first_name": "Léa", "role": "staff", "mobile": "01 02 03 04 05"}
    response = as_user(people.manager).post(reverse("portal:structure-staff-new"), data)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Saisissez un numéro de mobile français" in html
    assert 'id="id_mobile_errors"' in html and "fr-input-group--error" in html
    assert not Professional.objects.filter(last_name="ROUX").exists()


def test_ending_a_membership_asks_first_then_ends_it(people, as_user):
    client, member = as_user(people.manager), people.staff_member
    url = reverse("portal:structure-staff-end", args=[member.pk])
    assert "Oui, mettre fin à cette appartenance" in client.get(url).content.decode()
    assert StructureMember.objects.get(pk=member.pk).is_active
    client.post(url)
    assert not StructureMember.objects.get(pk=member.pk).is_active
    assert url not in client.get(reverse("portal:structure")).content.decode()


def test_another_structures_member_cannot_be_ended(people, as_user):
    stranger = StructureMemberFactory()
    url = reverse("portal:structure-staff-end", args=[stranger.pk])
    assert as_user(people.manager).post(url).status_code == 404
    assert StructureMember.objects.get(pk=stranger.pk).is_active


def test_a_card_that_does_not_fit_the_role_is_refused_with_the_card_that_does(people, as_user):
    data = {"member": people.staff_member.pk, "card_type": "CDE"}
    html = as_user(people.manager).post(reverse("portal:structure-order"), data, follow=True).content.decode()
    assert "La CDE est destinée au représentant légal" in html
    assert "commandez une CPE" in html


def test_a_legal_representative_ordered_a_cpe_is_told_to_order_a_cde(people, as_user):
    boss = StructureMemberFactory(
        structure=people.staff_member.structure, role=StructureMember.Role.LEGAL_REPRESENTATIVE
    )
    data = {"member": boss.pk, "card_type": "CPE"}
    html = as_user(people.manager).post(reverse("portal:structure-order"), data, follow=True).content.decode()
    assert "commandez une CDE" in html
    assert not Order.objects.exists()


def test_a_batch_is_previewed_with_its_errors_then_confirmed(people, as_user):
    client = as_user(people.manager)
    response = upload(client)
    assert response.status_code == 302 and not Order.objects.exists()
    html = client.get(response["Location"]).content.decode()
    assert 'id="line-4"' in html
    assert "colonne type_carte :" in html and "commandez une CDE" in html
    assert "Confirmer et envoyer 3 commandes" in html
    sha256 = re.search(r'name="sha256" value="([0-9a-f]{64})"', html).group(1)
    done = client.post(reverse("portal:structure-batch-confirm"), {"sha256": sha256}, follow=True)
    assert "3 commandes sont transmises à l&#x27;ANS" in done.content.decode()
    assert Order.objects.filter(state="submitted", structure=people.staff_member.structure).count() == 3
    assert client.post(reverse("portal:structure-batch-confirm"), {"sha256": sha256}).status_code == 302
    assert Order.objects.count() == 3  # confirming twice orders nothing more


def test_a_confirmation_for_another_file_than_the_one_previewed_is_refused(people, as_user):
    client = as_user(people.manager)
    upload(client)
    other = "0" * 64
    response = client.post(reverse("portal:structure-batch-confirm"), {"sha256": other}, follow=True)
    assert "Le fichier a changé depuis l" in response.content.decode()
    assert not Order.objects.exists()


def test_a_file_refused_whole_is_told_on_the_upload_form(people, as_user):
    response = upload(as_user(people.manager), content=b"name;surname\nA;B\n")
    html = response.content.decode()
    assert response.status_code == 200 and "La ligne d&#x27;en-tête doit nommer les colonnes" in html


def test_the_template_is_downloaded(people, as_user):
    response = as_user(people.manager).get(reverse("portal:structure-batch-template"))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.startswith(b"\xef\xbb\xbfnom;prenom;")


@pytest.mark.parametrize(
    "name", ["portal:structure-staff-new", "portal:structure-batch", "portal:structure-batch-template"]
)
def test_other_roles_may_not_open_the_managers_pages(people, as_user, name):
    assert as_user(people.holder).get(reverse(name)).status_code == 403
    assert as_user(people.ans).get(reverse(name)).status_code == 403


def test_a_confirmation_after_the_staff_changed_shows_the_new_preview(people, as_user):
    client, member = as_user(people.manager), people.staff_member
    person = member.professional
    content = f"nom;prenom;type_carte\n{person.last_name};{person.first_name};CPE\nNEUF;Jean;CPE\n".encode()
    preview_url = upload(client, content=content)["Location"]
    sha256 = preview_url.rstrip("/").rsplit("/", 1)[1]
    client.post(reverse("portal:structure-staff-end", args=[member.pk]))
    response = client.post(reverse("portal:structure-batch-confirm"), {"sha256": sha256}, follow=True)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == preview_url
    assert "ont changé depuis l&#x27;aperçu" in html
    assert "Confirmer et envoyer 2 commandes" in html  # the ended member now reads as a new one
    assert html.count("nouveau, déclaré à la confirmation") == 2
    assert not Order.objects.exists() and not Professional.objects.filter(last_name="NEUF").exists()
