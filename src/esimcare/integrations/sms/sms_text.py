"""SMS text as SMPP ``short_message`` segments: GSM 7-bit when every character allows, else UCS-2.

3GPP TS 23.038 section 6.2.1 defines the GSM 7-bit default alphabet and its extension table
(characters sent as ESC plus one septet). SMPP 3.4 section 5.2.19 gives ``data_coding`` 0 (SMSC
default alphabet, which SMSCs take as GSM 7-bit, one septet per octet) and 8 (UCS-2, UTF-16BE).
A text too long for one SMS is cut into segments that each carry a concatenation header
(TS 23.040 section 9.2.3.24.1: IEI 0x00, 8-bit reference, total, sequence number), so the phone
shows one message. Segments never split an escape pair or a UTF-16 surrogate pair.
"""

from __future__ import annotations

from dataclasses import dataclass

DATA_CODING_GSM7 = 0x00
DATA_CODING_UCS2 = 0x08

ESCAPE = 0x1B
# TS 23.038 table 6.2.1 in septet order; position 0x1B is the escape, never a character itself.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}
_BASIC_SEPTETS = {char: index for index, char in enumerate(GSM7_BASIC) if index != ESCAPE}

# One SMS holds 140 octets: 160 septets or 70 UCS-2 characters. The 6-octet concatenation
# header leaves 134 octets: 153 septets (with fill bits) or 67 UCS-2 code units.
SINGLE_GSM7_SEPTETS = 160
PART_GSM7_SEPTETS = 153
SINGLE_UCS2_OCTETS = 140
PART_UCS2_OCTETS = 134
MAX_SEGMENTS = 255


class MessageTooLongError(ValueError):
    """More than 255 segments: no phone can reassemble it."""


@dataclass(frozen=True)
class Segment:
    """One ``submit_sm``: ``short_message`` with its header (if any) and its ``data_coding``."""

    short_message: bytes
    data_coding: int
    has_header: bool


def is_gsm7(text: str) -> bool:
    return all(char in _BASIC_SEPTETS or char in GSM7_EXTENSION for char in text)


def gsm7_septets(text: str) -> list[bytes]:
    """Each character as its septets (one, or ESC plus one); the caller checked ``is_gsm7``."""
    return [
        bytes([_BASIC_SEPTETS[char]])
        if char in _BASIC_SEPTETS
        else bytes([ESCAPE, GSM7_EXTENSION[char]])
        for char in text
    ]


def segments(text: str, reference: int) -> list[Segment]:
    """``reference`` (0-255) ties the segments of one message together on the phone; the same
    message sent again should use the same reference."""
    if is_gsm7(text):
        units, data_coding = gsm7_septets(text), DATA_CODING_GSM7
        single, part = SINGLE_GSM7_SEPTETS, PART_GSM7_SEPTETS
    else:
        units, data_coding = _ucs2_units(text), DATA_CODING_UCS2
        single, part = SINGLE_UCS2_OCTETS, PART_UCS2_OCTETS
    if sum(map(len, units)) <= single:
        return [Segment(b"".join(units), data_coding, has_header=False)]
    chunks = _pack(units, part)
    if len(chunks) > MAX_SEGMENTS:
        raise MessageTooLongError(f"the text needs {len(chunks)} SMS; at most 255 can be joined")
    return [
        Segment(_concatenation_header(reference, len(chunks), number) + chunk, data_coding, True)
        for number, chunk in enumerate(chunks, start=1)
    ]


def _ucs2_units(text: str) -> list[bytes]:
    """Per character its UTF-16BE octets: 2, or 4 for a surrogate pair kept whole."""
    return [char.encode("utf-16-be") for char in text]


def _pack(units: list[bytes], limit: int) -> list[bytes]:
    chunks: list[bytes] = []
    current = b""
    for unit in units:
        if len(current) + len(unit) > limit:
            chunks.append(current)
            current = b""
        current += unit
    chunks.append(current)
    return chunks


def _concatenation_header(reference: int, total: int, number: int) -> bytes:
    return bytes([0x05, 0x00, 0x03, reference & 0xFF, total, number])
