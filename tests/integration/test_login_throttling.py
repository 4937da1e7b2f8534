"""Failed logins cannot be turned against the owner (security.md, issue 7 item 4).

A real server on 127.0.0.1; the attacker's client is bound to another loopback address
(127.0.0.2), the owner's to 127.0.0.1, so the server sees two client addresses exactly as it
would on a network. The clock is frozen: waits pass when the test says so.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from sqlalchemy import func, select

from esimcare.app import create_app
from esimcare.config import Limits
from esimcare.context import Context
from esimcare.customers.models import Customer, VerificationFailure
from esimcare.kit.clock import FrozenClock
from tests.integration.portal_support import csrf, portal_client

ANNA_PHONE = "+79160000001"
ANNA_EMAIL = "anna@example.com"
PASSWORD = "demo-password-1"
LOGIN_URL = "/api/v1/mts/sessions"
OWNER = "127.0.0.1"
ATTACKER = "127.0.0.2"
THIRD = "127.0.0.3"


@contextmanager
def served(ctx: Context) -> Iterator[str]:
    """The app under uvicorn on a loopback socket the kernel numbered (port 0)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(ctx), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        listener.close()


@contextmanager
def client_from(base_url: str, address: str) -> Iterator[httpx.Client]:
    transport = httpx.HTTPTransport(local_address=address)
    with httpx.Client(base_url=base_url, transport=transport, timeout=30) as client:
        yield client


def log_in(
    client: httpx.Client, login: str, password: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    return client.post(LOGIN_URL, json={"login": login, "password": password}, headers=headers)


def failures_of_anna(ctx: Context) -> tuple[int, bool]:
    """How many failures Anna's account has counted, and whether it is locked now."""
    with ctx.sessions() as session:
        anna = session.scalar(select(Customer).where(Customer.phone == ANNA_PHONE))
        assert anna is not None
        counted = session.scalar(
            select(func.count())
            .select_from(VerificationFailure)
            .where(VerificationFailure.customer_id == anna.id)
        )
        locked = anna.locked_until is not None and anna.locked_until > ctx.clock.now()
        return counted or 0, locked


def advance(ctx: Context, seconds: float) -> None:
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(timedelta(seconds=seconds))


def test_failures_from_one_address_do_not_lock_the_owner_out_from_another(demo: Context) -> None:
    with served(demo) as url, client_from(url, ATTACKER) as attacker:
        answers = [log_in(attacker, ANNA_PHONE, f"guess-{n:04d}") for n in range(100)]
        with client_from(url, OWNER) as owner:
            mine = log_in(owner, ANNA_PHONE, PASSWORD)
    statuses = [answer.status_code for answer in answers]
    assert statuses == [401] * 5 + [429] * 95
    throttled = answers[-1]
    assert throttled.headers["content-type"].startswith("application/problem+json")
    assert throttled.json()["code"] == "login-throttled"
    assert int(throttled.headers["retry-after"]) >= 1
    assert mine.status_code == 201, mine.text
    assert failures_of_anna(demo) == (5, False)


def test_the_wait_doubles_and_one_address_alone_never_reaches_the_account_lock(
    demo: Context,
) -> None:
    """An attacker at one address tries Anna's phone, her e-mail and made-up logins in turn
    for an hour, each time the moment its wait ends."""
    logins = [ANNA_PHONE, ANNA_EMAIL, *(f"+7916555{n:04d}" for n in range(10))]
    waits: list[int] = []
    failures = elapsed = 0
    with served(demo) as url, client_from(url, ATTACKER) as attacker:
        for _ in range(500):  # far more tries than an hour of waits allows
            if elapsed >= 3600:
                break
            answer = log_in(attacker, logins[failures % len(logins)], "a-wrong-guess")
            if answer.status_code == 401:
                failures += 1
                continue
            assert answer.status_code == 429, answer.text
            waits.append(int(answer.headers["retry-after"]))
            advance(demo, waits[-1])
            elapsed += waits[-1]
        with client_from(url, OWNER) as owner:
            assert log_in(owner, ANNA_PHONE, PASSWORD).status_code == 201
    limits = demo.settings.limits
    assert failures == limits.login_failures_one_address_can_make_in_an_hour() == 32
    assert failures < limits.failures_per_hour
    assert waits[:10] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
    assert waits[10:] == [limits.login_delay_cap_s] * 3
    assert failures_of_anna(demo)[1] is False


def test_an_unknown_login_is_throttled_exactly_like_a_real_one(demo: Context) -> None:
    with served(demo) as url:
        with client_from(url, ATTACKER) as first:
            real = [log_in(first, ANNA_PHONE, "a-wrong-guess") for _ in range(7)]
        with client_from(url, THIRD) as second:
            unknown = [log_in(second, "+79169999999", "a-wrong-guess") for _ in range(7)]
    assert (
        [r.status_code for r in real] == [r.status_code for r in unknown] == [401] * 5 + [429] * 2
    )
    assert [r.json() for r in real] == [r.json() for r in unknown]
    assert [r.headers.get("retry-after") for r in real] == [
        r.headers.get("retry-after") for r in unknown
    ]


def test_x_forwarded_for_names_the_client_only_when_a_trusted_proxy_sends_it(
    make_context: Callable[..., Context],
) -> None:
    """127.0.0.3 plays our reverse proxy; 127.0.0.2 talks to the server directly."""
    ctx = make_context(trusted_proxies=(ipaddress.ip_network(f"{THIRD}/32"),))
    with served(ctx) as url:
        with client_from(url, ATTACKER) as direct:
            # Not a proxy of ours: a new made-up X-Forwarded-For each time changes nothing.
            spoofed = [
                log_in(direct, ANNA_PHONE, "guess", {"X-Forwarded-For": f"198.51.100.{n}"})
                for n in range(7)
            ]
        with client_from(url, THIRD) as proxy:
            relayed = [
                log_in(proxy, ANNA_PHONE, "guess", {"X-Forwarded-For": "192.0.2.66"})
                for _ in range(7)
            ]
            owner = log_in(proxy, ANNA_PHONE, PASSWORD, {"X-Forwarded-For": "203.0.113.9"})
    assert [r.status_code for r in spoofed] == [401] * 5 + [429] * 2
    assert [r.status_code for r in relayed] == [401] * 5 + [429] * 2
    assert owner.status_code == 201, owner.text


def test_a_password_over_128_characters_is_refused_and_counted_nowhere(demo: Context) -> None:
    overlong = "x" * 129
    with served(demo) as url, client_from(url, ATTACKER) as attacker:
        api = [log_in(attacker, ANNA_PHONE, overlong) for _ in range(10)]
    portal = portal_client(demo)
    page = portal.get("/mts/login")
    form = {"csrf": csrf(page.text), "login": ANNA_PHONE, "password": overlong}
    portal_answers = [portal.post("/mts/login", data=form) for _ in range(10)]
    assert {r.status_code for r in api} == {422}
    assert api[0].headers["content-type"].startswith("application/problem+json")
    assert "password" in str(api[0].json()["errors"])
    # Post/Redirect/Get: the login page again (after a 303), saying why.
    assert {r.status_code for r in portal_answers} == {200}
    assert all(r.history and r.history[0].status_code == 303 for r in portal_answers)
    assert "at most 128 characters" in portal_answers[0].text
    assert failures_of_anna(demo) == (0, False)
    assert portal.post("/mts/login", data={**form, "password": PASSWORD}).status_code == 200


@pytest.fixture
def argon2_verifications(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts every argon2 verification in this process ("calls"), and the most that ran at
    once ("most_at_once"); each takes at least ``slow`` seconds when the test sets it."""
    seen: Counter[str] = Counter()
    lock = threading.Lock()
    original = PasswordHasher.verify

    def counted(self: PasswordHasher, encoded: Any, password: Any) -> bool:
        with lock:
            seen["calls"] += 1
            seen["running"] += 1
            seen["most_at_once"] = max(seen["most_at_once"], seen["running"])
        try:
            time.sleep(seen["slow_ms"] / 1000)
            return original(self, encoded, password)
        finally:
            with lock:
                seen["running"] -= 1

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    return seen


def test_a_login_does_the_same_argon2_work_whether_the_account_exists_or_not(
    demo: Context, argon2_verifications: Counter[str]
) -> None:
    with served(demo) as url, client_from(url, OWNER) as client:
        answers = {}
        for login in ("+79169999999", "nobody@example.com", "not a login", ANNA_PHONE):
            before = argon2_verifications["calls"]
            answers[login] = log_in(client, login, "a-wrong-guess")
            assert argon2_verifications["calls"] - before == 1, login
    assert {a.status_code for a in answers.values()} == {401}
    assert len({a.text for a in answers.values()}) == 1


def test_forty_concurrent_logins_run_at_most_the_configured_argon2_work_at_once(
    make_context: Callable[..., Context], argon2_verifications: Counter[str]
) -> None:
    ctx = make_context(limits=Limits(password_hash_concurrency=2, password_hash_wait_s=0.05))
    argon2_verifications["slow_ms"] = 300
    with served(ctx) as url, client_from(url, OWNER) as client:
        start = threading.Barrier(41)

        def bogus(n: int) -> httpx.Response:
            start.wait()
            return log_in(client, f"+7916777{n:04d}", "a-wrong-guess")

        with ThreadPoolExecutor(40) as pool:
            storm = [pool.submit(bogus, n) for n in range(40)]
            start.wait()
            began = time.monotonic()
            health = client.get("/api/v1/health")
            health_took = time.monotonic() - began
            answers = [future.result() for future in storm]
    statuses = Counter(answer.status_code for answer in answers)
    assert argon2_verifications["most_at_once"] <= 2
    assert set(statuses) == {401, 429} and statuses[429] >= 20, statuses
    busy = next(answer for answer in answers if answer.status_code == 429)
    assert busy.json()["code"] == "busy"
    assert busy.headers["content-type"].startswith("application/problem+json")
    assert int(busy.headers["retry-after"]) >= 1
    assert health.status_code == 200 and health_took < 2, health_took
