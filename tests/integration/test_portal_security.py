"""Portal security: one login failure message, __Host- cookies, CSRF and Origin checks,
server-side logout, tenant isolation."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from portal_support import csrf, esim_ids, hidden, log_in, portal_client

from esimcare.context import Context
from esimcare.customers.authenticate import authenticate
from esimcare.errors import AuthenticationError
from esimcare.portal.deps import SESSION_COOKIE


def failed_login(demo: Context, login: str, password: str) -> tuple[int, str]:
    client = portal_client(demo, "en")
    page = client.get("/mts/login")
    answer = client.post(
        "/mts/login", data={"csrf": csrf(page.text), "login": login, "password": password}
    )
    body = answer.text.replace(login, "<login>")  # the form keeps what was typed
    return answer.status_code, body.replace(csrf(answer.text), "<csrf>")


def test_unknown_login_and_wrong_password_get_the_same_answer(demo: Context) -> None:
    unknown = failed_login(demo, "+79169999999", "demo-password-1")
    wrong = failed_login(demo, "+79160000001", "not-the-password")
    email = failed_login(demo, "nobody@example.com", "demo-password-1")
    assert unknown[0] == wrong[0] == email[0] == 200  # the login page again, after a 303
    assert unknown[1] == wrong[1] == email[1]
    assert "The phone number, e-mail or password is wrong." in wrong[1]


def test_the_session_cookie_is_host_prefixed_secure_httponly_and_lax(demo: Context) -> None:
    answer = log_in(portal_client(demo), "mts")
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    for attribute in ("Secure", "HttpOnly", "Path=/", "SameSite=lax"):
        assert attribute.lower() in cookie.lower()
    assert "domain=" not in cookie.lower()


def test_every_login_issues_a_new_session_token(demo: Context) -> None:
    client = portal_client(demo)
    first = log_in(client, "mts").cookies[SESSION_COOKIE]
    second = log_in(client, "mts").cookies[SESSION_COOKIE]
    assert first != second


def test_logout_revokes_the_session_on_the_server(demo: Context) -> None:
    client = portal_client(demo)
    token = log_in(client, "mts").cookies[SESSION_COOKIE]
    page = client.get("/mts/esims")
    assert page.status_code == 200
    out = client.post("/mts/logout", data={"csrf": csrf(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    stolen = portal_client(demo)
    stolen.cookies.set(SESSION_COOKIE, token)
    again = stolen.get("/mts/esims", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].split("?")[0] == "/mts/login"


def test_pages_need_a_login(demo: Context) -> None:
    client = portal_client(demo)
    for path in ("/mts/esims", "/mts/esims/1", "/mts/esims/1/cancel", "/mts/cancellations/1"):
        answer = client.get(path, follow_redirects=False)
        location = answer.headers["location"].split("?")[0]
        assert (answer.status_code, location) == (303, "/mts/login"), path


def test_a_session_of_one_operator_does_not_open_another(demo: Context) -> None:
    client = portal_client(demo)
    log_in(client, "mts")
    answer = client.get("/beeline/esims", follow_redirects=False)
    assert answer.headers["location"].split("?")[0] == "/beeline/login"


def test_another_customers_esim_is_not_found(demo: Context) -> None:
    beeline = portal_client(demo)
    log_in(beeline, "beeline")
    foreign = esim_ids(beeline, "beeline")[0]
    mts = portal_client(demo)
    log_in(mts, "mts")
    assert mts.get(f"/mts/esims/{foreign}").status_code == 404
    assert mts.get(f"/mts/esims/{foreign}/cancel").status_code == 404


@pytest.mark.parametrize("path", ["/mts/login", "/identify", "/mts/logout"])
def test_a_post_without_the_csrf_token_is_refused(demo: Context, path: str) -> None:
    client = portal_client(demo, "en")
    client.get("/")
    answer = client.post(path, data={"login": "+79160000001", "password": "demo-password-1"})
    assert answer.status_code == 403
    assert "another site" in answer.text
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_a_cancel_form_without_csrf_creates_nothing(demo: Context) -> None:
    client = portal_client(demo)
    log_in(client, "mts")
    esim = esim_ids(client, "mts")[0]
    form = client.get(f"/mts/esims/{esim}/cancel").text
    answer = client.post(
        f"/mts/esims/{esim}/cancel",
        data={"csrf": "0" * 64, "form_token": hidden(form, "form_token"), "reason": "not_needed"},
    )
    assert answer.status_code == 403
    assert f"/mts/esims/{esim}/cancel" in client.get(f"/mts/esims/{esim}").text  # still active


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_cross_site_post_is_refused_even_with_a_token(
    demo: Context, headers: dict[str, str]
) -> None:
    client = portal_client(demo)
    page = client.get("/mts/login")
    answer = client.post(
        "/mts/login",
        headers=headers,
        data={"csrf": csrf(page.text), "login": "+79160000001", "password": "demo-password-1"},
    )
    assert answer.status_code == 403


def test_a_same_origin_post_passes_the_origin_check(demo: Context) -> None:
    client = portal_client(demo)
    page = client.get("/mts/login")
    answer = client.post(
        "/mts/login",
        follow_redirects=False,
        data={
            "csrf": csrf(page.text),
            "login": "+79160000001",
            "password": "demo-password-1",
        },
        headers={"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert answer.status_code == 303


def test_pages_forbid_framing_and_foreign_scripts(demo: Context) -> None:
    headers = portal_client(demo).get("/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"


def test_a_bad_form_value_gives_a_readable_page_not_a_500(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    # A path that names nothing is a page not found (test_portal_paths.py has the rest).
    assert client.get("/mts/esims/not-a-number").status_code == 404
    page = client.get("/mts/login")
    long = client.post(
        "/mts/login", data={"csrf": csrf(page.text), "login": "x" * 300, "password": "y"}
    )
    assert long.status_code == 422
    assert "Please check" in long.text


def test_an_unexpected_failure_shows_a_calm_page_without_a_trace(
    demo: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("esimcare.portal.esims.list_esims", broken)
    client = portal_client(demo, "ru")
    log_in(client, "mts")
    quiet = TestClient(
        client.app,
        base_url="https://testserver",
        headers={"Accept-Language": "ru"},
        raise_server_exceptions=False,
    )
    quiet.cookies = client.cookies
    page = quiet.get("/mts/esims")
    assert page.status_code == 500
    assert "Что-то пошло не так" in page.text
    assert "+7 800 000-00-01" in page.text
    assert "secret internals" not in page.text and "Traceback" not in page.text


def test_logging_in_again_ends_the_previous_session_server_side(demo: Context) -> None:
    with portal_client(demo) as client:
        log_in(client, "mts")
        first = client.cookies.get("__Host-esimcare")
        assert first
        log_in(client, "mts")
        second = client.cookies.get("__Host-esimcare")
    assert second and second != first
    with pytest.raises(AuthenticationError):
        authenticate(demo, "mts", first)
    assert authenticate(demo, "mts", second).customer.email == "anna@example.com"
