"""The status page says only what is true: refund destination and arrival time, nothing to
refund for zero, steps after an undo, one instruction about the phone, and the right headline."""

from __future__ import annotations

from portal_support import csrf, esim_ids, hidden, latest_code, log_in, portal_client, text_of

from esimcare.context import Context
from esimcare.runtime import build_worker


def _cancel(client, demo: Context, op: str, index: int, **fields: str):  # type: ignore[no-untyped-def]
    esim = esim_ids(client, op)[index]
    form = client.get(f"/{op}/esims/{esim}/cancel")
    verify = client.post(f"/{op}/esims/{esim}/cancel", data={
        "csrf": csrf(form.text), "form_token": hidden(form.text, "form_token"),
        "quote_id": hidden(form.text, "quote_id"), "reason": "not_needed", **fields})  # fmt: skip
    if op == "mts":
        secret = {"method": "sms", "secret": latest_code(demo, "+79160000001")}
    else:
        secret = {"method": "password", "secret": "demo-password-1"}
    return client.post(verify.url.path, data={"csrf": csrf(verify.text), **secret})


def test_a_completed_mts_cancellation_says_where_the_refund_went_and_when_it_arrives(
    demo: Context,
) -> None:
    client = portal_client(demo, "en")
    log_in(client, "mts")
    status = _cancel(client, demo, "mts", 0)
    build_worker(demo).run_until_idle()
    page = client.get(status.url.path)
    words = text_of(page.text)
    assert "Sent to card **** 4242. It usually arrives within 5 days." in words
    assert "Your eSIM is cancelled." in words
    assert "Your request is accepted." not in words
    assert "as quoted" in words
    assert words.count("Delete the eSIM on your phone") == 1


def test_after_undo_the_steps_read_not_needed_and_the_phone_is_told_nothing(
    demo: Context,
) -> None:
    client = portal_client(demo, "en")
    log_in(client, "beeline")
    status = _cancel(client, demo, "beeline", 0, refund_to="+79161234567")
    scheduled = text_of(status.text)
    assert "Wait until the cancellation is completed before deleting" not in scheduled
    assert "Tap Delete eSIM" not in scheduled  # the instruction comes when it is time
    assert "Will be sent to the number +7********67. It usually arrives within 1 days." in (
        scheduled
    )
    undone = client.post(f"{status.url.path}/undo", data={"csrf": csrf(status.text)})
    words = text_of(undone.text)
    assert words.count("Not needed — cancellation undone") == 5
    assert "Waiting" not in words
