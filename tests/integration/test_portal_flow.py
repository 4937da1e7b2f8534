"""The cancellation through the portal's forms, as a subscriber clicks through it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response
from portal_support import csrf, esim_ids, hidden, latest_code, log_in, portal_client, text_of

from esimcare.context import Context
from esimcare.kit.ids import Iccid
from esimcare.runtime import build_worker

ANNA = "+79160000001"


def open_cancel_form(client: TestClient, op: str, index: int = 0) -> tuple[int, Response]:
    esim = esim_ids(client, op)[index]
    return esim, client.get(f"/{op}/esims/{esim}/cancel")


def submit_cancel(
    client: TestClient, op: str, esim: int, form: Response, **fields: str
) -> Response:
    data = {"csrf": csrf(form.text), "form_token": hidden(form.text, "form_token"), **fields}
    return client.post(f"/{op}/esims/{esim}/cancel", data=data)


def test_mts_cancellation_completes_through_the_forms(demo: Context) -> None:
    client = portal_client(demo, "en")
    assert log_in(client, "mts").status_code == 303
    esim, form = open_cancel_form(client, "mts")
    quote = text_of(form.text)
    for fact in (
        "Final bill",
        "Refund",
        "card **** 4242",
        "Balance now",
        "quarantine until",
        "Right after you confirm",
        "stays on your phone",
    ):
        assert fact in quote, fact
    verify = submit_cancel(client, "mts", esim, form, reason="leaving_country", comment="Bye")
    assert "We sent a code to +7********01." in text_of(verify.text)
    status = client.post(
        verify.url.path,
        data={"csrf": csrf(verify.text), "method": "sms", "secret": latest_code(demo, ANNA)},
    )
    assert re.search(r"Keep the reference for any questions: C-[A-Z0-9]{8}", text_of(status.text))
    assert 'data-refresh="yes"' in status.text  # processing: the page follows it
    build_worker(demo).run_until_idle()
    done = client.get(status.url.path)
    assert 'data-status="completed"' in done.text
    assert done.text.count("badge--step-done") == 5
    page = text_of(done.text)
    assert "Delete the eSIM on your phone" in page
    assert "Settings > Mobile Service (or Cellular)" in page
    assert "Settings > Network & internet > SIMs" in page
    assert "does not end the plan" in page and "has been ended by this cancellation" in page
    assert "Cancelled" in text_of(client.get("/mts/esims").text)


def test_the_refund_shown_after_completion_equals_the_quote(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    esim, form = open_cancel_form(client, "mts", index=1)  # never downloaded
    quoted = re.search(r"Refund</dt><dd><strong>([^<]+)<", form.text)
    assert quoted
    assert "never downloaded" in form.text
    verify = submit_cancel(client, "mts", esim, form, reason="not_needed")
    status = client.post(
        verify.url.path,
        data={"csrf": csrf(verify.text), "method": "sms", "secret": latest_code(demo, ANNA)},
    )
    build_worker(demo).run_until_idle()
    done = client.get(status.url.path).text
    assert quoted.group(1) in done
    assert "Delete the eSIM on your phone" not in done  # nothing on a phone to delete


def test_a_double_submitted_cancel_form_leads_to_one_cancellation(demo: Context) -> None:
    client = portal_client(demo)
    log_in(client, "mts")
    esim, form = open_cancel_form(client, "mts")
    first = submit_cancel(client, "mts", esim, form, reason="not_needed")
    second = submit_cancel(client, "mts", esim, form, reason="not_needed")
    assert first.status_code == second.status_code == 200
    assert first.url.path == second.url.path
    assert len(demo.sms.messages(to=ANNA)) == 1  # one code sent, not two


def test_a_wrong_code_says_how_many_attempts_are_left(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    esim, form = open_cancel_form(client, "mts")
    verify = submit_cancel(client, "mts", esim, form, reason="not_needed")
    wrong = "000000" if latest_code(demo, ANNA) != "000000" else "111111"
    answer = client.post(
        verify.url.path, data={"csrf": csrf(verify.text), "method": "sms", "secret": wrong}
    )
    assert answer.status_code == 200  # after the 303 (Post/Redirect/Get)
    assert "The code is wrong. Attempts left: 4." in text_of(answer.text)


def test_resending_the_code_is_throttled_with_a_clear_message(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    esim, form = open_cancel_form(client, "mts")
    verify = submit_cancel(client, "mts", esim, form, reason="not_needed")
    resend = client.post(f"{verify.url.path}/resend", data={"csrf": csrf(verify.text)})
    assert resend.status_code == 200  # after the 303 (Post/Redirect/Get)
    assert "You can ask for a new code from" in text_of(resend.text)


def test_the_cancel_form_is_shown_again_with_a_message_when_the_reason_is_missing(
    demo: Context,
) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    esim, form = open_cancel_form(client, "mts")
    answer = submit_cancel(client, "mts", esim, form, reason="", comment="keep me")
    assert answer.status_code == 200  # after the 303 (Post/Redirect/Get)
    assert "Choose a reason." in answer.text
    assert "keep me" in answer.text


def test_beeline_needs_another_number_for_the_refund(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "beeline")
    esim, form = open_cancel_form(client, "beeline")
    assert 'name="refund_to"' in form.text
    same = submit_cancel(
        client, "beeline", esim, form, reason="not_needed", refund_to="+79030000001"
    )
    assert same.status_code == 200  # after the 303 (Post/Redirect/Get)
    assert "another number than the one you are cancelling" in same.text
    bad = submit_cancel(client, "beeline", esim, form, reason="not_needed", refund_to="12")
    assert "Enter a phone number like" in bad.text


def scheduled_beeline(demo: Context, client: TestClient) -> Response:
    log_in(client, "beeline")
    esim, form = open_cancel_form(client, "beeline")
    verify = submit_cancel(
        client, "beeline", esim, form, reason="leaving_country", refund_to="+79161234567"
    )
    assert "or confirm with your password" in verify.text
    return client.post(
        verify.url.path,
        data={"csrf": csrf(verify.text), "method": "password", "secret": "demo-password-1"},
    )


def test_beeline_cancellation_is_scheduled_and_undone_from_the_status_page(demo: Context) -> None:
    client = portal_client(demo, "en")
    status = scheduled_beeline(demo, client)
    assert 'data-status="scheduled"' in status.text
    assert "+7*********67" in status.text or "+7********67" in status.text
    undone = client.post(f"{status.url.path}/undo", data={"csrf": csrf(status.text)})
    assert 'data-status="undone"' in undone.text
    assert "Active" in text_of(client.get("/beeline/esims").text)


def test_beeline_undo_link_from_the_message_works_without_logging_in(demo: Context) -> None:
    scheduled_beeline(demo, portal_client(demo, "en"))
    build_worker(demo).run_until_idle()  # delivers the notice with the undo link
    link = next(
        re.search(r"https?://\S+/beeline/undo/\S+", m.body)
        for m in demo.sms.messages(to="+79030000001")
        if "/undo/" in m.body
    )
    assert link
    path = "/" + link.group(0).split("/", 3)[3]
    stranger = portal_client(demo, "zh-CN")
    confirm = stranger.get(path)
    assert confirm.status_code == 200
    assert "撤销取消" in confirm.text
    done = stranger.post(path, data={"csrf": csrf(confirm.text)})
    assert 'data-status="undone"' in done.text
    again = stranger.post(path, data={"csrf": csrf(confirm.text)})
    assert again.status_code == 200  # after the 303 (Post/Redirect/Get)
    assert "已无法执行此操作" in text_of(again.text)


def test_a_made_up_undo_link_is_refused_politely(demo: Context) -> None:
    page = portal_client(demo, "en").get("/beeline/undo/not-a-real-token")
    assert page.status_code == 404
    assert "This undo link is not valid" in page.text


def test_megafon_debt_blocks_the_cancellation_with_a_clear_message(demo: Context) -> None:
    client = portal_client(demo, "en")
    log_in(client, "megafon")
    esim, form = open_cancel_form(client, "megafon")
    page = text_of(form.text)
    assert "Pay the debt first" in page
    assert "Your account has a debt of" in page
    assert 'name="reason"' not in form.text
    forced = client.post(
        f"/megafon/esims/{esim}/cancel",
        data={"csrf": csrf(form.text), "form_token": "t1", "reason": "not_needed"},
    )
    assert forced.url.path == f"/megafon/esims/{esim}/cancel"
    assert "Pay the debt first" in text_of(forced.text)


def ask_which_operator(client: TestClient, value: str) -> Response:
    home = client.get("/")
    return client.post("/identify", data={"csrf": csrf(home.text), "number": value})


def found_operators(answer: Response) -> list[str]:
    assert "This eSIM is from:" in answer.text
    return re.findall(r'class="button" href="/(\w+)/login"', answer.text)


def test_which_operator_is_answered_from_the_iccid(demo: Context) -> None:
    client = portal_client(demo, "en")
    beeline_iccid = Iccid.from_body("897019955555555555").value
    answer = ask_which_operator(client, " ".join([beeline_iccid[:4], beeline_iccid[4:]]))
    assert answer.status_code == 200
    assert found_operators(answer) == ["beeline"]


def test_which_operator_is_answered_from_the_number_as_a_hint(demo: Context) -> None:
    client = portal_client(demo, "en")
    answer = ask_which_operator(client, "8 (915) 123-45-67")
    assert found_operators(answer) == ["mts"]
    assert "only a hint" in answer.text
    unknown = ask_which_operator(client, "+44 20 7946 0958")
    assert "We could not tell" in unknown.text


def test_which_operator_says_clearly_when_the_iccid_check_digit_is_wrong(demo: Context) -> None:
    client = portal_client(demo, "en")
    good = Iccid.from_body("897010155555555555").value
    broken = good[:-1] + str((int(good[-1]) + 1) % 10)
    answer = ask_which_operator(client, broken)
    assert [step.status_code for step in answer.history] == [303]  # Post/Redirect/Get
    assert answer.request.method == "GET" and answer.url.path == "/"
    assert "check) digit does not match" in answer.text
    assert broken in answer.text  # the form keeps what was typed, to correct it
    assert 'aria-invalid="true"' in ask_which_operator(client, "12345").text
    assert "check) digit" not in client.get("/").text  # said once: a reload forgets it
