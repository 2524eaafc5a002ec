"""A domain error in a page is answered once: the person is told why, on the page they came from."""

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.http import HttpResponse
from django.test import RequestFactory

from core.errors import DomainError, NotPermitted
from core.web import DomainErrorMiddleware, back_url


def page_request(method: str = "post", path: str = "/orders/7/cancel/", **headers):
    request = getattr(RequestFactory(), method)(path, headers=headers)
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def middleware() -> DomainErrorMiddleware:
    return DomainErrorMiddleware(lambda request: HttpResponse())


def test_it_tells_the_person_why_and_sends_them_back_where_they_were():
    request = page_request(referer="http://testserver/orders/7/")
    response = middleware().process_exception(request, NotPermitted("Not your order."))
    assert response.status_code == 303 and response["Location"] == "http://testserver/orders/7/"
    assert [str(m) for m in get_messages(request)] == ["Not your order."]


def test_it_never_sends_the_person_to_another_site():
    request = page_request(referer="https://evil.example/phish")
    assert back_url(request) == "/orders/7/cancel/"


def test_the_form_can_say_where_to_go_back():
    request = RequestFactory().post("/x/", {"next": "/orders/"})
    assert back_url(request) == "/orders/"


@pytest.mark.parametrize("path", ["/api/v1/orders/7/cancel/", "/pki/ocsp", "/o/token/"])
def test_it_leaves_the_api_and_protocol_endpoints_to_their_own_handler(path):
    assert middleware().process_exception(page_request(path=path), DomainError("x")) is None


def test_it_leaves_other_exceptions_alone():
    assert middleware().process_exception(page_request(), ValueError("bug")) is None


def test_a_page_that_was_only_loaded_never_sends_the_person_back_to_itself():
    request = page_request(method="get", path="/orders/7/paid/?reference=x", referer="https://bank.example/")
    assert back_url(request) == "/"
    looped = page_request(method="get", path="/orders/7/", referer="http://testserver/orders/7/")
    assert back_url(looped) == "/"
