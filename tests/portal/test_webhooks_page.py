"""ANS's webhook pages: subscriptions created (the secret shown once), deactivated; messages listed with their
state, attempts and last error, filtered, a failed one sent again; audited; other roles refused. In a real
browser too: the pages pass axe-core."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditRecord
from notifications import webhooks
from notifications.models import WebhookDelivery, WebhookSubscription
from tests.e2e.conftest import assert_accessible, assert_no_axe_violations, sign_in
from tests.factories import persona

pytestmark = pytest.mark.django_db
URL = "https://rp.example.fr/cpx-hooks"


@pytest.fixture(autouse=True)
def english_and_no_broker(settings, monkeypatch):
    settings.LANGUAGE_CODE = "en"  # the French catalogue is merged by the lead
    monkeypatch.setattr(webhooks, "_send_task", lambda name, *args: None)


def create(client, **fields):
    data = {"name": "Hôpital Nord", "url": URL, "events": ["card.opposed", "card.revoked"], **fields}
    return client.post(reverse("portal:webhooks"), data)


def test_an_ans_operator_adds_a_subscription_and_sees_its_secret_once(people, as_user):
    client = as_user(people.ans)
    response = create(client)
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    subscription = WebhookSubscription.objects.get()
    html = response.content.decode()
    assert f'<code id="secret">{subscription.secret}</code>' in html
    assert (subscription.events, subscription.created_by) == (["card.opposed", "card.revoked"], people.ans)

    again = client.get(reverse("portal:webhooks")).content.decode()
    assert subscription.secret not in again and "Hôpital Nord" in again
    record = AuditRecord.objects.get(action="webhook_subscription.created")
    assert record.actor_id == people.ans.pk and subscription.secret not in str(record.detail)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"url": "http://rp.example.fr/hooks"}, "The endpoint must use https."),
        ({"events": []}, "This field is required."),
        ({"events": ["card.lost"]}, "Select a valid choice."),
    ],
)
def test_a_wrong_subscription_is_shown_again_with_its_error(people, as_user, settings, fields, error):
    settings.CPX_WEBHOOK_ALLOW_LOCAL_HTTP = False
    html = create(as_user(people.ans), **fields).content.decode()
    assert error in html and 'id="secret"' not in html
    assert not WebhookSubscription.objects.exists()


def test_an_operator_deactivates_a_subscription(people, as_user):
    subscription, _ = webhooks.subscription_create(name="RP", url=URL, events=["card.opposed"], actor="t")
    client = as_user(people.ans)
    response = client.post(reverse("portal:webhook-deactivate", args=[subscription.pk]))
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert not subscription.active
    assert AuditRecord.objects.filter(
        action="webhook_subscription.deactivated", actor_id=people.ans.pk
    ).exists()
    assert client.get(reverse("portal:webhook-deactivate", args=[subscription.pk])).status_code == 405


def test_the_messages_show_their_state_and_a_failed_one_is_sent_again(people, as_user):
    subscription, _ = webhooks.subscription_create(name="RP", url=URL, events=["card.opposed"], actor="t")
    delivered, failed = (
        webhooks.webhooks_emit(event="card.opposed", card_key=f"C{n}", payload={})[0] for n in range(2)
    )
    WebhookDelivery.objects.filter(pk=delivered).update(
        state="delivered", attempts=1, delivered_at=timezone.now()
    )
    WebhookDelivery.objects.filter(pk=failed).update(
        state="failed", attempts=12, last_status=503, last_error="HTTP 503: busy"
    )
    client = as_user(people.ans)
    listing = client.get(reverse("portal:webhook-deliveries")).content.decode()
    assert f'id="delivery-{delivered}"' in listing and f'id="delivery-{failed}"' in listing
    assert "503 HTTP 503: busy" in listing

    only_failed = client.get(reverse("portal:webhook-deliveries"), {"state": "failed"}).content.decode()
    assert f'id="delivery-{failed}"' in only_failed and f'id="delivery-{delivered}"' not in only_failed
    assert len(re.findall(r'action="[^"]*/retry/"', only_failed)) == 1
    by_subscription = client.get(reverse("portal:webhook-deliveries"), {"subscription": subscription.pk + 1})
    assert by_subscription.status_code == 200  # an unknown subscription filters nothing out

    response = client.post(reverse("portal:webhook-retry", args=[failed]))
    assert response.status_code == 302 and response["Location"].endswith("?state=failed")
    row = WebhookDelivery.objects.get(pk=failed)
    assert (row.state, row.attempts, row.last_error) == ("pending", 0, "")
    assert AuditRecord.objects.filter(action="webhook_delivery.retried", actor_id=people.ans.pk).exists()
    client.post(reverse("portal:webhook-retry", args=[delivered]))
    assert WebhookDelivery.objects.get(pk=delivered).state == "delivered"


@pytest.mark.parametrize("who", ["holder", "manager", "cnom", "auditor"])
def test_other_roles_are_refused(people, as_user, who):
    subscription, _ = webhooks.subscription_create(name="RP", url=URL, events=["card.opposed"], actor="t")
    [delivery] = webhooks.webhooks_emit(event="card.opposed", card_key="C1", payload={})
    client = as_user(getattr(people, who))
    assert client.get(reverse("portal:webhooks")).status_code == 403
    assert create(client).status_code == 403
    assert client.get(reverse("portal:webhook-deliveries")).status_code == 403
    assert client.post(reverse("portal:webhook-deactivate", args=[subscription.pk])).status_code == 403
    assert client.post(reverse("portal:webhook-retry", args=[delivery])).status_code == 403
    assert WebhookSubscription.objects.get().active and WebhookSubscription.objects.count() == 1


def test_someone_signed_out_is_sent_to_sign_in(client):
    response = client.get(reverse("portal:webhooks"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_menu_of_an_ans_operator_links_to_the_page(people, as_user):
    html = as_user(people.ans).get(reverse("portal:dashboard")).content.decode()
    assert f'href="{reverse("portal:webhooks")}"' in html


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_in_a_browser_the_pages_pass_axe_and_show_the_secret_once(page):  # noqa: F811
    ans = persona("ans_operator")
    sign_in(page, ans)
    page.goto(reverse("portal:webhooks"))
    assert_accessible(page)
    assert_no_axe_violations(page)
    page.locator("#id_name").fill("Hôpital Nord")
    page.locator("#id_url").fill(URL)
    page.locator("input[name=events][value='card.opposed']").check()
    page.locator("#subscription-form button[type=submit]").click()
    secret = page.locator("#secret").inner_text()
    assert secret == WebhookSubscription.objects.get().secret
    assert_no_axe_violations(page)

    subscription = WebhookSubscription.objects.get()
    [failed] = webhooks.webhooks_emit(event="card.opposed", card_key="C1", payload={})
    WebhookDelivery.objects.filter(pk=failed).update(state="failed", attempts=3, last_error="HTTP 500")
    page.goto(reverse("portal:webhooks"))
    assert page.locator("#secret").count() == 0
    page.locator("#failed-link").click()
    assert page.locator(f"#delivery-{failed}").count() == 1
    assert_accessible(page)
    assert_no_axe_violations(page)
    page.locator(f"#delivery-{failed} button[type=submit]").click()
    page.wait_for_url(re.compile(r"state=failed"))
    assert WebhookDelivery.objects.get(pk=failed).state == "pending"
    assert subscription.deliveries.count() == 1
