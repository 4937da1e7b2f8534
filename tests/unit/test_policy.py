from __future__ import annotations

import dataclasses
import tomllib

import pytest

from esimcare.cancellations.states import TRANSITIONS, CancellationStatus, can_transition
from esimcare.operators.policy import PolicyError, RefundRoute, load_policies, parse_policy
from esimcare.sandbox.demo_data import POLICIES


def demo_raw() -> dict[str, dict[str, object]]:
    with POLICIES.open("rb") as handle:
        return dict(tomllib.load(handle)["operators"])


def test_the_demo_operators_differ_on_purpose() -> None:
    policies = load_policies(POLICIES)
    assert set(policies) == {"mts", "beeline", "megafon"}
    assert len({p.refund_route for p in policies.values()}) == 3
    assert {p.grace_period_hours for p in policies.values()} == {0, 24}
    assert policies["megafon"].debt_blocks_cancellation
    assert all(p.demo_note for p in policies.values())


def test_every_reason_is_labelled_in_russian_english_and_chinese() -> None:
    for policy in load_policies(POLICIES).values():
        for reason in policy.reasons:
            assert set(reason.labels) == {"ru", "en", "zh"}


def test_a_policy_missing_a_field_names_the_operator_and_the_field() -> None:
    raw = demo_raw()["mts"]
    del raw["refund_route"]
    with pytest.raises(PolicyError, match="mts: missing field 'refund_route'"):
        parse_policy("mts", raw)


def test_a_policy_with_an_unknown_refund_route_is_refused() -> None:
    raw = demo_raw()["mts"] | {"refund_route": "cheque"}
    with pytest.raises(PolicyError, match="mts"):
        parse_policy("mts", raw)


def test_an_operator_names_its_sms_sender_and_a_malformed_one_is_refused() -> None:
    raw = demo_raw()["mts"]
    assert parse_policy("mts", raw | {"sms_sender": "MTS"}).sms_sender == "MTS"
    assert parse_policy("mts", raw).sms_sender == ""
    with pytest.raises(PolicyError, match="mts: an SMS sender is"):
        parse_policy("mts", raw | {"sms_sender": "Mobile TeleSystems"})


def test_no_refund_has_no_payout_route() -> None:
    assert RefundRoute.NONE.payout_route is None


def test_final_cancellation_statuses_have_no_way_out() -> None:
    for status in (
        CancellationStatus.COMPLETED,
        CancellationStatus.UNDONE,
        CancellationStatus.EXPIRED,
    ):
        assert status.is_final
        assert not TRANSITIONS[status]


def test_only_a_scheduled_cancellation_can_be_undone() -> None:
    undoable = [s for s in CancellationStatus if can_transition(s, CancellationStatus.UNDONE)]
    assert undoable == [CancellationStatus.SCHEDULED]


def test_a_webhook_table_is_checked_and_its_secret_never_printed() -> None:
    raw = tomllib.loads(POLICIES.read_text())["operators"]["mts"]
    secret = "s" * 30
    hooks = {"url": "https://crm.example/h", "secret": secret}
    policy = parse_policy("mts", raw | {"webhooks": hooks})
    assert policy.webhook_target is not None and policy.webhook_target.encrypted
    assert secret not in repr(policy) and secret not in repr(policy.webhook_target)
    assert dataclasses.replace(policy, webhooks={}).webhook_target is None


@pytest.mark.parametrize(
    "wrong",
    [
        {"url": "ftp://crm.example/h", "secret": "s" * 30},
        {"url": "https://crm.example/h", "secret": "short"},
    ],
)
def test_a_wrong_webhook_table_is_refused(wrong: dict[str, str]) -> None:
    raw = tomllib.loads(POLICIES.read_text())["operators"]["mts"]
    with pytest.raises(PolicyError, match="webhooks"):
        parse_policy("mts", raw | {"webhooks": wrong})
