"""Problem titles are for people, so they come in the caller's language (Accept-Language);
``type`` and ``code`` are for programs and never change. ES2+ answers stay English: their
reader is an SM-DP+."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from api_support import assert_problem
from fastapi.testclient import TestClient
from httpx import Response

from esimcare.errors import NotFoundError

Call = Callable[[TestClient, dict[str, str]], Response]


def _no_session(client: TestClient, headers: dict[str, str]) -> Response:
    return client.get("/api/v1/mts/esims", headers=headers)  # a domain error, raised in a route


def _unknown_operator(client: TestClient, headers: dict[str, str]) -> Response:
    return client.post("/api/v1/nobody/sessions", json={}, headers=headers)


def _unknown_path(client: TestClient, headers: dict[str, str]) -> Response:
    return client.get("/api/v1/mts/nothing-here", headers=headers)  # the router's own 404


def _login_without_fields(client: TestClient, headers: dict[str, str]) -> Response:
    return client.post("/api/v1/mts/sessions", json={}, headers=headers)  # request validation


def _malformed_json(client: TestClient, headers: dict[str, str]) -> Response:
    content_type = {"Content-Type": "application/json"}
    return client.post("/api/v1/mts/sessions", content=b"{login", headers=headers | content_type)


# (call, status, code, English, Russian, Chinese title)
CASES: list[tuple[Call, int, str, str, str, str]] = [
    (
        _no_session,
        401,
        "unauthenticated",
        "Login or password is wrong, or the session has ended",
        "Неверный логин или пароль, либо сеанс завершён",
        "登录名或密码错误，或会话已结束",
    ),
    (_unknown_operator, 404, "not-found", "Not found", "Не найдено", "未找到"),
    (_unknown_path, 404, "not-found", "Not found", "Не найдено", "未找到"),
    (
        _login_without_fields,
        422,
        "invalid-input",
        "Invalid input",
        "Некорректные данные",
        "输入无效",
    ),
    (
        _malformed_json,
        400,
        "malformed-json",
        "Malformed JSON",
        "Некорректный JSON",
        "JSON 格式错误",
    ),
]
IDS = ["401-no-session", "404-operator", "404-path", "422-validation", "400-malformed-json"]


def problem_in(client: TestClient, case: tuple[Call, int, str], language: str | None) -> Any:
    call, status, code = case
    headers = {"Accept-Language": language} if language else {}
    return assert_problem(call(client, headers), status, code)


@pytest.mark.parametrize(("call", "status", "code", "en", "ru", "zh"), CASES, ids=IDS)
def test_the_title_follows_accept_language_and_the_code_does_not(
    client: TestClient, call: Call, status: int, code: str, en: str, ru: str, zh: str
) -> None:
    case = (call, status, code)
    expected = {"ru-RU,ru;q=0.9": ru, "zh-CN": zh, "de, en;q=0.1": en, None: en}
    for language, title in expected.items():
        problem = problem_in(client, case, language)
        assert (problem["title"], problem["code"]) == (title, code), language
        assert problem["type"].endswith("/problems/" + code)


def test_q_values_choose_the_language(client: TestClient) -> None:
    problem = problem_in(client, (_no_session, 401, "unauthenticated"), "en;q=0.5, zh;q=0.9")
    assert problem["title"] == "登录名或密码错误，或会话已结束"


def test_a_detail_that_repeats_the_title_is_translated_with_it(client: TestClient) -> None:
    russian = problem_in(client, (_unknown_path, 404, "not-found"), "ru")
    english = problem_in(client, (_unknown_path, 404, "not-found"), None)
    assert english["detail"] == NotFoundError.title
    assert russian["detail"] == russian["title"] != english["title"]
    # A detail of its own (which header to send) is kept as written.
    assert problem_in(client, (_no_session, 401, "unauthenticated"), "ru")["detail"] != (
        "Неверный логин или пароль, либо сеанс завершён"
    )


def test_the_titles_class_attribute_stays_the_english_message_id() -> None:
    assert NotFoundError.title == "Not found"  # what the portal and the catalogs key on


def test_es2plus_answers_stay_english_for_the_sm_dp_plus(client: TestClient) -> None:
    response = client.post(
        "/es2plus/mts/gsma/rsp2/es2plus/handleDownloadProgressInfo",
        content=b"x",
        headers={"Content-Type": "text/plain", "Accept-Language": "ru"},
    )
    problem = response.json()
    assert response.status_code in (403, 415), response.text
    assert problem["title"].isascii() and problem["title"].startswith("Notifications"), problem
