"""The SMPP 3.4 PDUs an ESME transmitter needs, encoded and decoded (SMPP 3.4 sections 3 and 4).

Every PDU is a 16-octet header (command_length, command_id, command_status, sequence_number,
big-endian) and a body of fields; strings are NUL-terminated C-octet strings (section 3.1).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from enum import IntEnum

HEADER = struct.Struct(">IIII")
MAX_PDU_OCTETS = 64 * 1024
INTERFACE_VERSION = 0x34


class Command(IntEnum):
    """Section 5.1.2.1."""

    GENERIC_NACK = 0x80000000
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015


class Status(IntEnum):
    """The command_status values this client acts on (section 5.1.3); others are kept as ints."""

    OK = 0x00
    INVALID_BIND_STATUS = 0x04
    ALREADY_BOUND = 0x05
    SYSTEM_ERROR = 0x08
    INVALID_DESTINATION = 0x0B
    BIND_FAILED = 0x0D
    INVALID_PASSWORD = 0x0E
    INVALID_SYSTEM_ID = 0x0F
    MESSAGE_QUEUE_FULL = 0x14
    THROTTLED = 0x58
    TEMPORARY_APP_ERROR = 0x64


class Ton(IntEnum):
    """Type of number (section 5.2.5)."""

    UNKNOWN = 0
    INTERNATIONAL = 1
    ALPHANUMERIC = 5


class Npi(IntEnum):
    """Numbering plan indicator (section 5.2.6)."""

    UNKNOWN = 0
    ISDN = 1


ESM_CLASS_UDHI = 0x40  # section 5.2.12: short_message starts with a user data header


class PduError(Exception):
    """The peer sent something that is not an SMPP PDU, or closed the connection."""


@dataclass(frozen=True)
class Pdu:
    command: int
    sequence: int
    status: int = Status.OK
    body: bytes = b""

    def encode(self) -> bytes:
        length = HEADER.size + len(self.body)
        return HEADER.pack(length, self.command, self.status, self.sequence) + self.body

    def response(self, command: Command, status: int = Status.OK) -> Pdu:
        return Pdu(command, self.sequence, status)


@dataclass(frozen=True)
class Address:
    ton: int
    npi: int
    digits: str


@dataclass(frozen=True)
class SubmitSm:
    source: Address
    destination: Address
    esm_class: int
    data_coding: int
    short_message: bytes


def c_string(value: str, max_octets: int) -> bytes:
    """``max_octets`` counts the NUL, as the specification's field sizes do."""
    encoded = value.encode("ascii")
    if len(encoded) >= max_octets or b"\0" in encoded:
        raise ValueError(f"SMPP field longer than {max_octets - 1} characters")
    return encoded + b"\0"


def bind_transmitter(sequence: int, system_id: str, password: str, system_type: str = "") -> Pdu:
    """Section 4.1.1."""
    body = (
        c_string(system_id, 16)
        + c_string(password, 9)
        + c_string(system_type, 13)
        + bytes([INTERFACE_VERSION, Ton.UNKNOWN, Npi.UNKNOWN])
        + c_string("", 41)
    )
    return Pdu(Command.BIND_TRANSMITTER, sequence, body=body)


def submit_sm(sequence: int, message: SubmitSm) -> Pdu:
    """Section 4.4.1; store-and-forward mode, no delivery receipt, no scheduling."""
    if len(message.short_message) > 254:
        raise ValueError("short_message holds at most 254 octets")
    body = b"".join(
        [
            c_string("", 6),  # service_type: the SMSC default
            bytes([message.source.ton, message.source.npi]),
            c_string(message.source.digits, 21),
            bytes([message.destination.ton, message.destination.npi]),
            c_string(message.destination.digits, 21),
            bytes([message.esm_class, 0, 0]),  # esm_class, protocol_id, priority_flag
            c_string("", 17) + c_string("", 17),  # schedule_delivery_time, validity_period
            bytes([0, 0, message.data_coding, 0]),  # registered_delivery .. sm_default_msg_id
            bytes([len(message.short_message)]) + message.short_message,
        ]
    )
    return Pdu(Command.SUBMIT_SM, sequence, body=body)


def first_c_string(body: bytes) -> str:
    """The message_id of a submit_sm_resp (section 4.4.2), or the system_id of a bind_resp."""
    end = body.find(b"\0")
    return body[: end if end >= 0 else len(body)].decode("ascii", errors="replace")


def write_pdu(connection: socket.socket, pdu: Pdu) -> None:
    connection.sendall(pdu.encode())


def read_pdu(connection: socket.socket) -> Pdu:
    """Raises PduError on a closed connection or a malformed header; socket errors propagate."""
    length, command, status, sequence = HEADER.unpack(_read_exactly(connection, HEADER.size))
    if not HEADER.size <= length <= MAX_PDU_OCTETS:
        raise PduError(f"SMPP command_length {length} is out of range")
    body = _read_exactly(connection, length - HEADER.size)
    return Pdu(command, sequence, status, body)


def _read_exactly(connection: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise PduError("the SMSC closed the connection")
        data += chunk
    return bytes(data)
