"""SmppSmsGateway against a real SMSC (OsmoMSC, tests/smsc.py) and, for what OsmoMSC never
does (throttling, distinct message ids), against a scripted SMPP test double."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.integrations.sms.smpp import SmppSettings, SmppSmsGateway
from esimcare.integrations.sms.smpp_pdu import Status
from tests.contract.smpp_test_double import scripted_peer
from tests.smsc import (
    GSM7_DCS,
    PASSWORD,
    SYSTEM_ID,
    UCS2_DCS,
    OsmoSmsc,
    free_port,
)

PHONE = "+4915112345678"
RUSSIAN = (
    "Оператор: код 123456 для отмены eSIM +79001234567. Никому его не сообщайте. "
    "Действует 5 мин. Считается только последний код."
)
CHINESE = "运营商：取消 eSIM 的验证码 123456。请勿告诉任何人。"


class RecordedSleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings_for(port: int, **changes: object) -> SmppSettings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "system_id": SYSTEM_ID,
        "password": PASSWORD,
        "default_sender": "esimcare",
        "timeout_s": 5.0,
        **changes,
    }
    return SmppSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def sleeps() -> RecordedSleeps:
    return RecordedSleeps()


@pytest.fixture
def gateway(smsc: OsmoSmsc, sleeps: RecordedSleeps) -> Iterator[SmppSmsGateway]:
    client = SmppSmsGateway(settings_for(smsc.port), sleep=sleeps)
    yield client
    client.close()


def test_a_latin_text_is_stored_as_one_gsm_7bit_sms_from_the_alphanumeric_sender(
    gateway: SmppSmsGateway, smsc: OsmoSmsc
) -> None:
    text = "MegaTel: code 123456 to cancel eSIM. Only the latest code counts."
    gateway.send(to=PHONE, body=text, message_key="k1", sender="MegaTel")
    [stored] = smsc.stored()
    assert (stored.source, stored.source_ton) == ("MegaTel", 5)
    assert (stored.destination, stored.destination_ton) == ("4915112345678", 1)
    assert (stored.data_coding, stored.has_header) == (GSM7_DCS, False)
    assert bytes(stored.septets()).decode("ascii") == text


def test_gsm_characters_outside_ascii_arrive_as_their_gsm_septets(
    gateway: SmppSmsGateway, smsc: OsmoSmsc
) -> None:
    gateway.send(to=PHONE, body="@ 5€ è", message_key="k1")
    [stored] = smsc.stored()
    # TS 23.038: "@" is septet 0x00, "€" is ESC 0x65 from the extension table, "è" is 0x04.
    assert stored.septets() == [0x00, 0x20, 0x35, 0x1B, 0x65, 0x20, 0x04]


def test_a_russian_text_over_70_characters_is_stored_as_concatenated_ucs2_segments(
    gateway: SmppSmsGateway, smsc: OsmoSmsc
) -> None:
    assert len(RUSSIAN) > 70
    gateway.send(to=PHONE, body=RUSSIAN, message_key="k1")
    stored = smsc.stored()
    assert len(stored) == 2
    assert {(s.data_coding, s.has_header) for s in stored} == {(UCS2_DCS, True)}
    [(reference,)] = {(s.header[3],) for s in stored}
    assert [s.header for s in stored] == [
        bytes([5, 0, 3, reference, 2, 1]),
        bytes([5, 0, 3, reference, 2, 2]),
    ]
    assert "".join(s.ucs2_text() for s in stored) == RUSSIAN


def test_a_chinese_text_is_stored_as_ucs2(gateway: SmppSmsGateway, smsc: OsmoSmsc) -> None:
    gateway.send(to=PHONE, body=CHINESE, message_key="k1")
    [stored] = smsc.stored()
    assert (stored.data_coding, stored.has_header) == (UCS2_DCS, False)
    assert stored.ucs2_text() == CHINESE


def test_a_numeric_sender_is_sent_as_an_international_number(
    gateway: SmppSmsGateway, smsc: OsmoSmsc
) -> None:
    gateway.send(to=PHONE, body="hello", message_key="k1", sender="+79001234567")
    [stored] = smsc.stored()
    assert (stored.source, stored.source_ton) == ("79001234567", 1)


def test_the_message_id_is_the_one_the_smsc_answered(gateway: SmppSmsGateway) -> None:
    # OsmoMSC 1.9 answers every submit_sm_resp with this fixed id (smpp_openbsc.c); real SMSCs
    # give one per segment, which the scripted peer below checks.
    assert gateway.send(to=PHONE, body="hello", message_key="k1") == "msg_id_not_implemented"


def test_the_same_message_key_again_is_not_submitted_twice_by_one_process(
    gateway: SmppSmsGateway, smsc: OsmoSmsc
) -> None:
    first = gateway.send(to=PHONE, body="hello", message_key="k1")
    assert gateway.send(to=PHONE, body="hello", message_key="k1") == first
    assert len(smsc.stored()) == 1


def test_the_gateway_binds_again_after_the_smsc_restarts(
    gateway: SmppSmsGateway, smsc: OsmoSmsc, sleeps: RecordedSleeps
) -> None:
    gateway.send(to=PHONE, body="before the restart", message_key="k1")
    smsc.restart()
    gateway.send(to=PHONE, body="after the restart", message_key="k2")
    texts = [bytes(s.septets()).decode("ascii") for s in smsc.stored()]
    assert texts == ["before the restart", "after the restart"]
    assert sleeps == [0.5]  # the old bind was found dead once, then a new one was made


def test_a_bind_idle_across_an_smsc_restart_is_replaced_before_the_next_submit(
    smsc: OsmoSmsc, sleeps: RecordedSleeps
) -> None:
    clock = ManualClock()
    gateway = SmppSmsGateway(settings_for(smsc.port), sleep=sleeps, monotonic=clock)
    gateway.send(to=PHONE, body="before the restart", message_key="k1")
    smsc.restart()
    clock.now += 31  # past idle_check_s: enquire_link finds the old bind dead
    gateway.send(to=PHONE, body="after the restart", message_key="k2")
    gateway.close()
    assert len(smsc.stored()) == 2
    assert sleeps == []  # no failed submit, so no backoff


def test_a_wrong_password_is_a_permanent_failure(smsc: OsmoSmsc) -> None:
    gateway = SmppSmsGateway(settings_for(smsc.port, password="wrong"))
    with pytest.raises(PermanentIntegrationError) as refused:
        gateway.send(to=PHONE, body="hello", message_key="k1")
    assert refused.value.code == "smsc-bind-refused"
    assert smsc.stored() == []


def test_a_number_that_is_not_e164_is_refused_before_anything_is_sent(
    gateway: SmppSmsGateway, smsc: OsmoSmsc
) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        gateway.send(to="015112345678", body="hello", message_key="k1")
    assert refused.value.code == "invalid-number"
    assert smsc.stored() == []


def test_an_smsc_that_is_down_is_a_transient_failure_after_backing_off(
    sleeps: RecordedSleeps,
) -> None:
    gateway = SmppSmsGateway(settings_for(free_port(), attempts=4), sleep=sleeps)
    with pytest.raises(TransientIntegrationError, match="after 4 attempts"):
        gateway.send(to=PHONE, body="hello", message_key="k1")
    assert sleeps == [0.5, 1.0, 2.0]


def test_throttling_is_waited_out_with_growing_pauses(sleeps: RecordedSleeps) -> None:
    with scripted_peer([Status.THROTTLED, Status.THROTTLED]) as peer:
        gateway = SmppSmsGateway(settings_for(peer.port), sleep=sleeps)
        assert gateway.send(to=PHONE, body="hello", message_key="k1") == "seg-1"
        gateway.close()
    assert sleeps == [0.5, 1.0]
    assert (peer.binds, len(peer.submits)) == (1, 1)


def test_throttling_that_does_not_end_is_a_transient_failure(sleeps: RecordedSleeps) -> None:
    with scripted_peer([Status.THROTTLED] * 3) as peer:
        gateway = SmppSmsGateway(settings_for(peer.port, attempts=3), sleep=sleeps)
        with pytest.raises(TransientIntegrationError, match="THROTTLED"):
            gateway.send(to=PHONE, body="hello", message_key="k1")
        gateway.close()
    assert peer.submits == []


def test_an_idle_bind_is_checked_with_enquire_link_and_kept_when_it_answers(
    sleeps: RecordedSleeps,
) -> None:
    clock = ManualClock()
    with scripted_peer([]) as peer:
        gateway = SmppSmsGateway(settings_for(peer.port), sleep=sleeps, monotonic=clock)
        gateway.send(to=PHONE, body="one", message_key="k1")
        clock.now += 10
        gateway.send(to=PHONE, body="two", message_key="k2")
        clock.now += 31
        gateway.send(to=PHONE, body="three", message_key="k3")
        gateway.close()
    assert (peer.binds, peer.enquire_links, len(peer.submits)) == (1, 1, 3)


def test_a_multipart_message_returns_the_first_segments_id(sleeps: RecordedSleeps) -> None:
    with scripted_peer([]) as peer:
        gateway = SmppSmsGateway(settings_for(peer.port), sleep=sleeps)
        assert gateway.send(to=PHONE, body=RUSSIAN, message_key="k1") == "seg-1"
        gateway.close()
    assert len(peer.submits) == 2


def test_a_refusal_other_than_try_later_is_permanent_and_not_retried(
    sleeps: RecordedSleeps,
) -> None:
    with scripted_peer([Status.INVALID_DESTINATION]) as peer:
        gateway = SmppSmsGateway(settings_for(peer.port), sleep=sleeps)
        with pytest.raises(PermanentIntegrationError) as refused:
            gateway.send(to=PHONE, body="hello", message_key="k1")
        gateway.close()
    assert refused.value.code == "invalid-number"
    assert sleeps == []
