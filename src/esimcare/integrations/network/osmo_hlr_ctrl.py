"""OsmoHlrCtrlGateway: provisioning in Osmocom's OsmoHLR over its CTRL interface.

CTRL is text over TCP in IPA frames (``ipa.py``; OsmoHLR listens on port 4259)::

    GET <id> subscriber.by-imsi-<IMSI>.info       -> GET_REPLY <id> <var> \\n<key>\\t<value>...
    SET <id> subscriber.create <IMSI>             -> SET_REPLY <id> <var> <subscriber id>
    SET <id> subscriber.by-imsi-<IMSI>.msisdn <digits>
    SET <id> subscriber.by-imsi-<IMSI>.cs-enabled 0   (and .ps-enabled 0: barred)
    SET <id> subscriber.by-imsi-<IMSI>.aud2g <algo>,<Ki>
    SET <id> subscriber.by-imsi-<IMSI>.aud3g milenage,<K>,OPC,<OPc>
    SET <id> subscriber.delete <IMSI>
    any of them                                   -> ERROR <id> <reason>

CTRL writes are not idempotent (a second delete is ``ERROR Subscriber doesn't exist.``), so
every operation reads the subscriber first and writes only what differs from the wanted state:
a retried step finds its work done and succeeds. OsmoHLR keeps nothing of a deleted subscriber,
so an IMSI it does not know reads as UNKNOWN, and barring or removing it succeeds as REMOVED
(the line is already out of the network). ``request_id`` is not sent: CTRL has no such thing,
and the read-before-write makes replays harmless without it.

Transport failures (refused, reset, time-out, a garbled frame) are transient; ERROR replies
are definite and permanent (code ``hlr-refused`` with OsmoHLR's reason in the message).
"""

from __future__ import annotations

import itertools
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.integrations.network.interface import SubscriberState
from esimcare.integrations.network.ipa import IpaFramingError, ctrl_frame, read_ctrl_text

DEFAULT_CTRL_PORT = 4259
_NO_SUCH_SUBSCRIBER = "No such subscriber."
_ALREADY_EXISTS = "Subscriber already exists."
_DOES_NOT_EXIST = "Subscriber doesn't exist."
_IMSI = re.compile(r"[0-9]{6,15}")
_HEX_KEY = re.compile(r"[0-9a-fA-F]{32}")
_MSISDN_DIGITS = re.compile(r"[0-9]{1,15}")


@dataclass(frozen=True)
class CtrlAddress:
    host: str
    port: int = DEFAULT_CTRL_PORT

    @classmethod
    def parse(cls, text: str) -> CtrlAddress:
        """``host`` or ``host:port`` (as ESIMCARE_NETWORK_CTRL holds it)."""
        host, colon, port = text.strip().rpartition(":")
        if not colon:
            host, port = port, ""
        if not host or (port and not port.isdigit()):
            raise ValueError(f"CTRL address {text!r} is not host or host:port")
        return cls(host, int(port) if port else DEFAULT_CTRL_PORT)


@dataclass(frozen=True)
class AuthKeys:
    """A profile's authentication keys (hex), from the manufacturer's data; never printed."""

    ki: str | None = field(default=None, repr=False)  # 2G, for ``algo_2g``
    k: str | None = field(default=None, repr=False)  # 3G MILENAGE K
    opc: str | None = field(default=None, repr=False)  # 3G MILENAGE OPc
    algo_2g: str = "comp128v1"

    def __post_init__(self) -> None:
        for value in (self.ki, self.k, self.opc):
            if value is not None and not _HEX_KEY.fullmatch(value):
                raise ValueError("authentication keys are 32 hexadecimal digits")
        if (self.k is None) != (self.opc is None):
            raise ValueError("MILENAGE needs both K and OPc")


@dataclass(frozen=True)
class HlrSubscriber:
    """What ``subscriber.by-imsi-<IMSI>.info`` says; ``msisdn`` is digits without ``+``."""

    imsi: str
    msisdn: str | None
    cs_enabled: bool
    ps_enabled: bool

    @property
    def state(self) -> SubscriberState:
        barred = not (self.cs_enabled or self.ps_enabled)
        return SubscriberState.BARRED if barred else SubscriberState.ACTIVE


class CtrlRefusedError(Exception):
    """An ``ERROR`` reply: OsmoHLR understood the command and said no."""


class CtrlSession:
    """One TCP connection; commands run one at a time, each reply matched by its id."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._ids = itertools.count(1)

    def get(self, variable: str) -> str:
        return self._command("GET", variable, "")

    def set(self, variable: str, value: str) -> str:
        return self._command("SET", variable, f" {value}")

    def _command(self, verb: str, variable: str, value: str) -> str:
        command_id = str(next(self._ids))
        self._sock.sendall(ctrl_frame(f"{verb} {command_id} {variable}{value}"))
        while True:
            kind, reply_id, rest = _split_reply(read_ctrl_text(self._sock))
            if reply_id != command_id:
                continue  # a TRAP or a late answer to something else
            if kind == "ERROR":
                raise CtrlRefusedError(rest)
            if kind not in ("GET_REPLY", "SET_REPLY") or not rest.startswith(variable):
                raise IpaFramingError(f"unexpected CTRL reply {kind} for {variable}")
            return rest[len(variable) :].removeprefix(" ")


def _split_reply(text: str) -> tuple[str, str, str]:
    kind, _, remainder = text.partition(" ")
    reply_id, _, rest = remainder.partition(" ")
    return kind, reply_id, rest


class OsmoHlrCtrlGateway:
    """Implements ``NetworkGateway`` against OsmoHLR's CTRL interface."""

    def __init__(self, address: CtrlAddress, timeout_s: float = 5.0) -> None:
        self.address = address
        self._timeout_s = timeout_s

    def provision(self, *, imsi: str, msisdn: str, keys: AuthKeys | None = None) -> SubscriberState:
        """Create the subscriber with its MSISDN (and keys); never reactivates a barred one."""
        imsi, digits = _checked_imsi(imsi), _msisdn_digits(msisdn)
        with self._session() as ctrl:
            subscriber = _read(ctrl, imsi) or _create(ctrl, imsi)
            if subscriber.msisdn is None:
                ctrl.set(_var(imsi, "msisdn"), digits)
            elif subscriber.msisdn != digits:
                raise PermanentIntegrationError(
                    f"IMSI {imsi} belongs to another MSISDN", code="imsi-in-use"
                )
            if keys is not None:
                _store_keys(ctrl, imsi, keys)
            return subscriber.state

    def bar(self, *, imsi: str, msisdn: str, request_id: str) -> SubscriberState:
        """Switch off circuit- and packet-switched service; an absent IMSI is already gone."""
        imsi, digits = _checked_imsi(imsi), _msisdn_digits(msisdn)
        with self._session() as ctrl:
            subscriber = _read_for(ctrl, imsi, digits)
            if subscriber is None:
                return SubscriberState.REMOVED
            for flag, enabled in (
                ("cs-enabled", subscriber.cs_enabled),
                ("ps-enabled", subscriber.ps_enabled),
            ):
                if enabled:
                    ctrl.set(_var(imsi, flag), "0")
            return SubscriberState.BARRED

    def remove(self, *, imsi: str, msisdn: str, request_id: str) -> SubscriberState:
        """Delete a barred subscriber; refused while it still has service, like the registry."""
        imsi, digits = _checked_imsi(imsi), _msisdn_digits(msisdn)
        with self._session() as ctrl:
            subscriber = _read_for(ctrl, imsi, digits)
            if subscriber is None:
                return SubscriberState.REMOVED
            if subscriber.state is not SubscriberState.BARRED:
                raise PermanentIntegrationError(
                    "bar the subscriber before removing it", code="not-barred"
                )
            try:
                ctrl.set("subscriber.delete", imsi)
            except CtrlRefusedError as refusal:
                if str(refusal) != _DOES_NOT_EXIST:  # deleted by a concurrent retry
                    raise
            return SubscriberState.REMOVED

    def state(self, *, imsi: str) -> SubscriberState:
        imsi = _checked_imsi(imsi)
        with self._session() as ctrl:
            subscriber = _read(ctrl, imsi)
        return SubscriberState.UNKNOWN if subscriber is None else subscriber.state

    def subscriber(self, *, imsi: str) -> HlrSubscriber | None:
        """The subscriber as OsmoHLR stores it (None when absent)."""
        imsi = _checked_imsi(imsi)
        with self._session() as ctrl:
            return _read(ctrl, imsi)

    @contextmanager
    def _session(self) -> Iterator[CtrlSession]:
        where = f"OsmoHLR CTRL at {self.address.host}:{self.address.port}"
        try:
            with socket.create_connection(
                (self.address.host, self.address.port), timeout=self._timeout_s
            ) as sock:
                yield CtrlSession(sock)
        except (OSError, IpaFramingError) as exc:
            raise TransientIntegrationError(f"{where}: {type(exc).__name__}: {exc}") from exc
        except CtrlRefusedError as refusal:  # an ERROR no step above expected
            raise _permanent(refusal) from None


def _read(ctrl: CtrlSession, imsi: str) -> HlrSubscriber | None:
    try:
        info = ctrl.get(_var(imsi, "info"))
    except CtrlRefusedError as refusal:
        if str(refusal) == _NO_SUCH_SUBSCRIBER:
            return None
        raise
    return _parse_info(imsi, info)


def _read_for(ctrl: CtrlSession, imsi: str, msisdn_digits: str) -> HlrSubscriber | None:
    subscriber = _read(ctrl, imsi)
    if subscriber is not None and subscriber.msisdn != msisdn_digits:
        raise PermanentIntegrationError(
            f"IMSI {imsi} is not provisioned for that MSISDN", code="msisdn-mismatch"
        )
    return subscriber


def _create(ctrl: CtrlSession, imsi: str) -> HlrSubscriber:
    try:
        ctrl.set("subscriber.create", imsi)
    except CtrlRefusedError as refusal:
        if str(refusal) != _ALREADY_EXISTS:  # created by a concurrent retry: read it
            raise
    created = _read(ctrl, imsi)
    if created is None:
        raise IpaFramingError(f"subscriber {imsi} vanished right after it was created")
    return created


def _store_keys(ctrl: CtrlSession, imsi: str, keys: AuthKeys) -> None:
    """Write each key set OsmoHLR lacks; a different one already there is refused."""
    for variable, value in _key_settings(keys):
        current = ctrl.get(_var(imsi, variable))
        if current.lower() == "none":
            ctrl.set(_var(imsi, variable), value)
        elif _key_parts(current) != _key_parts(value):
            raise PermanentIntegrationError(
                f"IMSI {imsi} already has other {variable} keys", code="keys-differ"
            )


def _key_settings(keys: AuthKeys) -> list[tuple[str, str]]:
    settings = []
    if keys.ki is not None:
        settings.append(("aud2g", f"{keys.algo_2g},{keys.ki}"))
    if keys.k is not None and keys.opc is not None:
        settings.append(("aud3g", f"milenage,{keys.k},OPC,{keys.opc}"))
    return settings


def _key_parts(setting: str) -> list[str]:
    """Algorithm and keys of an aud2g/aud3g value; a read-back adds the IND bit length."""
    return setting.lower().split(",")[:4]


def _parse_info(imsi: str, info: str) -> HlrSubscriber:
    fields = dict(line.split("\t", 1) for line in info.splitlines() if "\t" in line)
    if fields.get("imsi") != imsi:
        raise IpaFramingError(f"info for {imsi} names IMSI {fields.get('imsi')!r}")
    return HlrSubscriber(
        imsi=imsi,
        msisdn=fields.get("msisdn") or None,
        cs_enabled=fields.get("nam_cs") == "1",
        ps_enabled=fields.get("nam_ps") == "1",
    )


def _permanent(refusal: CtrlRefusedError) -> PermanentIntegrationError:
    return PermanentIntegrationError(f"OsmoHLR refused: {refusal}", code="hlr-refused")


def _var(imsi: str, name: str) -> str:
    return f"subscriber.by-imsi-{imsi}.{name}"


def _checked_imsi(imsi: str) -> str:
    if not _IMSI.fullmatch(imsi):
        raise PermanentIntegrationError(f"{imsi!r} is no IMSI", code="invalid-imsi")
    return imsi


def _msisdn_digits(msisdn: str) -> str:
    """OsmoHLR stores MSISDNs as bare digits; ours are E.164 with ``+``."""
    digits = msisdn.removeprefix("+")
    if not _MSISDN_DIGITS.fullmatch(digits):
        raise PermanentIntegrationError(f"{msisdn!r} is no MSISDN", code="invalid-msisdn")
    return digits
