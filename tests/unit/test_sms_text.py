"""SMS segmentation (TS 23.038 / 23.040), sender ids, and the SMPP PDUs' byte layout."""

from __future__ import annotations

import pytest

from esimcare.integrations.sms.sender import SenderKind, sender_kind
from esimcare.integrations.sms.smpp_pdu import Address, SubmitSm, bind_transmitter, submit_sm
from esimcare.integrations.sms.sms_text import (
    DATA_CODING_GSM7,
    DATA_CODING_UCS2,
    MessageTooLongError,
    segments,
)
from esimcare.notices.templates import render


def texts_of(text: str) -> list[bytes]:
    return [segment.short_message for segment in segments(text, reference=0x2A)]


def test_160_gsm_characters_are_one_sms_without_a_header() -> None:
    [only] = segments("a" * 160, reference=1)
    assert (only.data_coding, only.has_header, only.short_message) == (0, False, b"a" * 160)


def test_161_gsm_characters_are_two_segments_of_153_and_8_with_headers() -> None:
    first, second = texts_of("a" * 161)
    assert first == bytes([5, 0, 3, 0x2A, 2, 1]) + b"a" * 153
    assert second == bytes([5, 0, 3, 0x2A, 2, 2]) + b"a" * 8


def test_an_escaped_character_is_never_split_between_segments() -> None:
    first, second = texts_of("a" * 152 + "€" + "b" * 10)
    assert first.endswith(b"a")  # the euro sign (ESC 0x65) would have been septets 153-154
    assert second[6:8] == bytes([0x1B, 0x65])


def test_a_character_outside_gsm_7bit_makes_the_whole_text_ucs2() -> None:
    [only] = segments("Hello, Мир", reference=1)
    assert only.data_coding == DATA_CODING_UCS2
    assert only.short_message.decode("utf-16-be") == "Hello, Мир"


def test_70_ucs2_characters_are_one_sms_and_71_are_two_of_67_and_4() -> None:
    assert len(texts_of("я" * 70)) == 1
    first, second = texts_of("я" * 71)
    assert first[6:].decode("utf-16-be") == "я" * 67
    assert second[6:].decode("utf-16-be") == "я" * 4


def test_a_surrogate_pair_is_never_split_between_segments() -> None:
    first, second = texts_of("я" * 66 + "😀" + "я" * 3)
    assert first[6:].decode("utf-16-be") == "я" * 66  # the pair would have been units 67-68
    assert second[6:].decode("utf-16-be") == "😀яяя"


def test_more_than_255_segments_is_refused() -> None:
    with pytest.raises(MessageTooLongError):
        segments("a" * 153 * 256, reference=1)


@pytest.mark.parametrize(
    ("sender", "kind"),
    [("+79001234567", SenderKind.NUMBER), ("900", SenderKind.NUMBER)],
)
def test_numbers_are_numeric_senders(sender: str, kind: SenderKind) -> None:
    assert sender_kind(sender) is kind


@pytest.mark.parametrize("sender", ["MegaTel", "Tele2", "A"])
def test_short_names_are_alphanumeric_senders(sender: str) -> None:
    assert sender_kind(sender) is SenderKind.ALPHANUMERIC


@pytest.mark.parametrize("sender", ["", "TwelveLetter", "МегаТел", "tab\there"])
def test_other_senders_are_refused(sender: str) -> None:
    with pytest.raises(ValueError, match="an SMS sender is"):
        sender_kind(sender)


def test_bind_transmitter_carries_the_credentials_as_c_strings_and_version_3_4() -> None:
    pdu = bind_transmitter(7, "esme", "pw").encode()
    assert pdu[:16] == bytes.fromhex("0000001d 00000002 00000000 00000007")
    assert pdu[16:] == b"esme\0pw\0\0" + bytes([0x34, 0, 0]) + b"\0"


def test_submit_sm_lays_out_its_fields_in_the_order_of_smpp_3_4_section_4_4_1() -> None:
    message = SubmitSm(Address(5, 0, "Tel"), Address(1, 1, "4915"), 0x40, 8, b"\x05xy")
    body = submit_sm(3, message).body
    assert body == (
        b"\0" + bytes([5, 0]) + b"Tel\0" + bytes([1, 1]) + b"4915\0"
        + bytes([0x40, 0, 0]) + b"\0\0" + bytes([0, 0, 8, 0]) + bytes([3]) + b"\x05xy"
    )  # fmt: skip


@pytest.mark.parametrize("language", ["ru", "en", "zh"])
def test_the_code_sms_says_only_the_latest_code_counts_and_fits_two_segments(
    language: str,
) -> None:
    _, body = render(
        "verification_code",
        language,
        operator="MegaTelecom",
        code="123456",
        msisdn="+79001234567",
        minutes=5,
    )
    latest = {"ru": "только последний код", "en": "Only the latest code", "zh": "仅以最新验证码"}
    assert latest[language] in body
    assert len(segments(body, reference=1)) <= 2
    assert segments(body, reference=1)[0].data_coding == (
        DATA_CODING_GSM7 if language == "en" else DATA_CODING_UCS2
    )
