"""A test double: a tiny SMPP peer that answers with scripted command_status values.

OsmoMSC never throttles, so ``ESME_RTHROTTLED`` and per-segment message ids are checked against
this peer instead. It accepts one connection at a time, answers every bind with OK and each
submit_sm with the next status from ``submit_statuses`` (OK once the script runs out), giving
each accepted segment the id ``seg-<n>``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from esimcare.integrations.sms.smpp_pdu import Command, Pdu, PduError, Status, read_pdu, write_pdu


class ScriptedSmppPeer:
    def __init__(self, submit_statuses: list[int]) -> None:
        self.submit_statuses = list(submit_statuses)
        self.submits: list[Pdu] = []
        self.binds = 0
        self.enquire_links = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self._listener.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed: the test is over
            connection.settimeout(5)
            with connection, suppress(OSError, PduError):
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        while True:
            pdu = read_pdu(connection)
            if pdu.command == Command.BIND_TRANSMITTER:
                self.binds += 1
                answer = Pdu(Command.BIND_TRANSMITTER_RESP, pdu.sequence, body=b"fake\0")
            elif pdu.command == Command.ENQUIRE_LINK:
                self.enquire_links += 1
                answer = pdu.response(Command.ENQUIRE_LINK_RESP)
            elif pdu.command == Command.SUBMIT_SM:
                answer = self._submit_answer(pdu)
            elif pdu.command == Command.UNBIND:
                write_pdu(connection, pdu.response(Command.UNBIND_RESP))
                return
            else:
                answer = pdu.response(Command.GENERIC_NACK, 0x03)
            write_pdu(connection, answer)

    def _submit_answer(self, pdu: Pdu) -> Pdu:
        status = self.submit_statuses.pop(0) if self.submit_statuses else Status.OK
        if status != Status.OK:
            return pdu.response(Command.SUBMIT_SM_RESP, status)
        self.submits.append(pdu)
        body = f"seg-{len(self.submits)}".encode() + b"\0"
        return Pdu(Command.SUBMIT_SM_RESP, pdu.sequence, body=body)


@contextmanager
def scripted_peer(submit_statuses: list[int]) -> Iterator[ScriptedSmppPeer]:
    peer = ScriptedSmppPeer(submit_statuses)
    peer.start()
    try:
        yield peer
    finally:
        peer.stop()
