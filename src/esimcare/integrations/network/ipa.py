"""IPA framing as Osmocom's CTRL interface uses it: one text command or reply per frame.

A frame is a 3-byte header (payload length as 2 bytes big-endian, then the protocol byte
0xEE, "OSMO extension") followed by the payload: one extension byte (0x00, "CTRL") and the
ASCII text. The length counts the extension byte and the text. Other IPA frames (keep-alive
pings of other Osmocom peers) may share the socket; ``read_ctrl_text`` skips them.
"""

from __future__ import annotations

import socket
import struct

IPA_PROTO_OSMO = 0xEE
IPA_EXT_CTRL = 0x00
_HEADER = struct.Struct(">HB")
MAX_TEXT = 0xFFFF - 1  # the length field is 16 bits and also counts the extension byte


class IpaFramingError(Exception):
    """The peer closed the connection or sent bytes that are no IPA frame."""


def ctrl_frame(text: str) -> bytes:
    payload = bytes([IPA_EXT_CTRL]) + text.encode("ascii")
    if len(payload) > MAX_TEXT + 1:
        raise ValueError("CTRL command longer than one IPA frame")
    return _HEADER.pack(len(payload), IPA_PROTO_OSMO) + payload


def read_ctrl_text(sock: socket.socket) -> str:
    """The text of the next CTRL frame on ``sock``; frames of other IPA protocols are skipped."""
    while True:
        length, proto = _HEADER.unpack(_read_exactly(sock, _HEADER.size))
        payload = _read_exactly(sock, length)
        if proto == IPA_PROTO_OSMO and payload[:1] == bytes([IPA_EXT_CTRL]):
            try:
                return payload[1:].decode("ascii")
            except UnicodeDecodeError as exc:
                raise IpaFramingError("CTRL reply is not ASCII text") from exc


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < count:
        chunk = sock.recv(count - len(chunks))
        if not chunk:
            raise IpaFramingError("the CTRL peer closed the connection mid-frame")
        chunks.extend(chunk)
    return bytes(chunks)
