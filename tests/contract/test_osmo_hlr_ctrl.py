"""OsmoHlrCtrlGateway against a real osmo-hlr (tests/osmo_hlr.py) and against dead peers.

What OsmoHLR stores is read back over CTRL, not taken from the adapter's own answers.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.integrations.network.interface import SubscriberState
from esimcare.integrations.network.ipa import ctrl_frame
from esimcare.integrations.network.osmo_hlr_ctrl import (
    AuthKeys,
    CtrlAddress,
    CtrlRefusedError,
    CtrlSession,
    HlrSubscriber,
    OsmoHlrCtrlGateway,
)
from tests.osmo_hlr import OsmoHlr

IMSI = "001010000000042"
MSISDN = "+79161234567"
KI = "000102030405060708090a0b0c0d0e0f"
K = "00112233445566778899aabbccddeeff"
OPC = "ffeeddccbbaa99887766554433221100"


@pytest.fixture
def hlr(osmo_hlr: OsmoHlr) -> OsmoHlrCtrlGateway:
    return OsmoHlrCtrlGateway(osmo_hlr.ctrl)


def raw_get(osmo_hlr: OsmoHlr, variable: str) -> str:
    with socket.create_connection((osmo_hlr.address, osmo_hlr.ctrl.port), timeout=5) as sock:
        return CtrlSession(sock).get(variable)


def line_of(request_id: str = "r") -> dict[str, str]:
    return {"imsi": IMSI, "msisdn": MSISDN, "request_id": request_id}


def test_a_provisioned_subscriber_is_stored_with_its_imsi_and_msisdn(
    hlr: OsmoHlrCtrlGateway,
) -> None:
    assert hlr.provision(imsi=IMSI, msisdn=MSISDN) is SubscriberState.ACTIVE
    assert hlr.subscriber(imsi=IMSI) == HlrSubscriber(IMSI, "79161234567", True, True)


def test_provisioning_twice_is_harmless(hlr: OsmoHlrCtrlGateway) -> None:
    hlr.provision(imsi=IMSI, msisdn=MSISDN)
    assert hlr.provision(imsi=IMSI, msisdn=MSISDN) is SubscriberState.ACTIVE
    assert hlr.subscriber(imsi=IMSI) == HlrSubscriber(IMSI, "79161234567", True, True)


def test_provisioning_stores_the_profile_keys(hlr: OsmoHlrCtrlGateway, osmo_hlr: OsmoHlr) -> None:
    keys = AuthKeys(ki=KI, k=K, opc=OPC)
    hlr.provision(imsi=IMSI, msisdn=MSISDN, keys=keys)
    hlr.provision(imsi=IMSI, msisdn=MSISDN, keys=keys)  # the same keys again: harmless
    stored = raw_get(osmo_hlr, f"subscriber.by-imsi-{IMSI}.info-aud")
    assert f"aud2g.ki\t{KI}" in stored
    assert f"aud3g.k\t{K}" in stored
    assert f"aud3g.opc\t{OPC}" in stored


def test_provisioning_other_keys_for_a_subscriber_with_keys_is_refused(
    hlr: OsmoHlrCtrlGateway,
) -> None:
    hlr.provision(imsi=IMSI, msisdn=MSISDN, keys=AuthKeys(ki=KI))
    with pytest.raises(PermanentIntegrationError) as refused:
        hlr.provision(imsi=IMSI, msisdn=MSISDN, keys=AuthKeys(ki=K))
    assert refused.value.code == "keys-differ"


def test_keys_are_never_printed() -> None:
    assert KI not in repr(AuthKeys(ki=KI, k=K, opc=OPC))


def test_a_refusal_by_osmo_hlr_is_permanent_and_names_its_reason(
    hlr: OsmoHlrCtrlGateway,
) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        hlr.provision(imsi=IMSI, msisdn=MSISDN, keys=AuthKeys(ki=KI, algo_2g="no-such-algo"))
    assert refused.value.code == "hlr-refused"
    assert "Unknown auth algorithm" in str(refused.value)


def test_barring_disables_circuit_and_packet_service(hlr: OsmoHlrCtrlGateway) -> None:
    hlr.provision(imsi=IMSI, msisdn=MSISDN)
    assert hlr.bar(**line_of()) is SubscriberState.BARRED
    assert hlr.bar(**line_of("again")) is SubscriberState.BARRED
    assert hlr.subscriber(imsi=IMSI) == HlrSubscriber(IMSI, "79161234567", False, False)


def test_removing_deletes_the_subscriber_and_twice_is_harmless(
    hlr: OsmoHlrCtrlGateway, osmo_hlr: OsmoHlr
) -> None:
    hlr.provision(imsi=IMSI, msisdn=MSISDN)
    hlr.bar(**line_of())
    assert hlr.remove(**line_of()) is SubscriberState.REMOVED
    assert hlr.remove(**line_of("again")) is SubscriberState.REMOVED
    assert hlr.subscriber(imsi=IMSI) is None
    with pytest.raises(CtrlRefusedError, match="No such subscriber"):
        raw_get(osmo_hlr, f"subscriber.by-imsi-{IMSI}.info")


def test_a_retried_cancellation_step_after_removal_succeeds(hlr: OsmoHlrCtrlGateway) -> None:
    """The network step bars then removes; run again from the start it finds both done."""
    hlr.provision(imsi=IMSI, msisdn=MSISDN)
    assert hlr.bar(**line_of("bar-1")) is SubscriberState.BARRED
    assert hlr.remove(**line_of("remove-1")) is SubscriberState.REMOVED
    assert hlr.bar(**line_of("bar-2")) is SubscriberState.REMOVED
    assert hlr.remove(**line_of("remove-2")) is SubscriberState.REMOVED
    assert hlr.state(imsi=IMSI) is SubscriberState.UNKNOWN


def test_an_imsi_osmo_hlr_does_not_know_reads_unknown_and_counts_as_removed(
    hlr: OsmoHlrCtrlGateway,
) -> None:
    assert hlr.state(imsi=IMSI) is SubscriberState.UNKNOWN
    assert hlr.bar(**line_of()) is SubscriberState.REMOVED
    assert hlr.remove(**line_of()) is SubscriberState.REMOVED


@pytest.mark.parametrize("imsi", ["12345", "0010100000000001", "00101abc000000"])
def test_a_malformed_imsi_is_refused_before_any_call(imsi: str) -> None:
    gateway = OsmoHlrCtrlGateway(CtrlAddress("127.0.0.1", 9))  # discard: connecting fails
    with pytest.raises(PermanentIntegrationError) as refused:
        gateway.state(imsi=imsi)
    assert refused.value.code == "invalid-imsi"


def test_a_dead_ctrl_port_is_a_transient_failure() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(TransientIntegrationError):
        OsmoHlrCtrlGateway(CtrlAddress("127.0.0.1", port)).state(imsi=IMSI)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock


def _serve_once(listener: socket.socket, answer: bytes) -> threading.Thread:
    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(1024)
            connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    "answer",
    [
        b"",  # hangs up without a word
        b"\x00\x30\xee\x00GET_RE",  # hangs up mid-frame
        ctrl_frame("GET_REPLY 1 something.else 1"),  # an answer to another question
    ],
)
def test_a_peer_that_breaks_off_or_talks_nonsense_is_a_transient_failure(
    listener: socket.socket, answer: bytes
) -> None:
    thread = _serve_once(listener, answer)
    gateway = OsmoHlrCtrlGateway(CtrlAddress("127.0.0.1", listener.getsockname()[1]))
    with pytest.raises(TransientIntegrationError):
        gateway.state(imsi=IMSI)
    thread.join(timeout=5)


def test_a_silent_peer_times_out_as_a_transient_failure(listener: socket.socket) -> None:
    gateway = OsmoHlrCtrlGateway(CtrlAddress("127.0.0.1", listener.getsockname()[1]), 0.2)
    with pytest.raises(TransientIntegrationError):
        gateway.state(imsi=IMSI)


def test_a_ctrl_frame_is_length_osmo_extension_ctrl_then_text() -> None:
    assert ctrl_frame("GET 1 x") == b"\x00\x08\xee\x00GET 1 x"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", CtrlAddress("127.0.0.1", 4259)),
        ("hlr.local:14259", CtrlAddress("hlr.local", 14259)),
    ],
)
def test_the_ctrl_address_setting_is_host_with_an_optional_port(
    text: str, expected: CtrlAddress
) -> None:
    assert CtrlAddress.parse(text) == expected


@pytest.mark.parametrize("text", ["", ":4259", "hlr:port"])
def test_a_malformed_ctrl_address_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not host or host:port"):
        CtrlAddress.parse(text)
