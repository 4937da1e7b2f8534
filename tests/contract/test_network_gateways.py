"""NetworkGateway contract: the registry emulator, the HTTP client and OsmoHLR behave the same.

OsmoHLR (a real ``osmo-hlr``, tests/osmo_hlr.py) keeps nothing of a deleted subscriber, so a
removed one reads as UNKNOWN there; the registry keeps it as REMOVED. Request ids, injected
faults and the refusal of an IMSI never provisioned are the registry's own (``emulated``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from esimcare.integrations.errors import PermanentIntegrationError, TransientIntegrationError
from esimcare.integrations.network.http_client import HttpNetworkGateway
from esimcare.integrations.network.interface import NetworkGateway, SubscriberState
from esimcare.integrations.network.osmo_hlr_ctrl import OsmoHlrCtrlGateway
from esimcare.kit.clock import FrozenClock
from esimcare.sandbox.network_app import create_app
from esimcare.sandbox.network_registry import NetworkRegistry
from esimcare.sandbox.store import EmulatorStore
from tests.osmo_hlr import OsmoHlr

IMSI = "250011234567890"
MSISDN = "+79161234567"
ServeAsgi = Callable[..., str]


@dataclass
class Network:
    gateway: NetworkGateway
    gone: SubscriberState  # what a removed subscriber reads as


@dataclass
class EmulatedNetwork(Network):
    registry: NetworkRegistry


def _emulated(
    kind: str, store: EmulatorStore, clock: FrozenClock, serve: ServeAsgi, client: httpx.Client
) -> EmulatedNetwork:
    registry = NetworkRegistry(store, clock)
    gateway: NetworkGateway = registry
    if kind == "http":
        gateway = HttpNetworkGateway(serve(create_app(registry)), client)
    gateway.provision(imsi=IMSI, msisdn=MSISDN)
    return EmulatedNetwork(gateway, SubscriberState.REMOVED, registry)


@pytest.fixture(params=["emulator", "http", "osmo-hlr"])
def network(
    request: pytest.FixtureRequest,
    emulator_store: EmulatorStore,
    clock: FrozenClock,
    serve_asgi: ServeAsgi,
    http_client: httpx.Client,
) -> Network:
    if request.param != "osmo-hlr":
        return _emulated(request.param, emulator_store, clock, serve_asgi, http_client)
    hlr: OsmoHlr = request.getfixturevalue("osmo_hlr")
    gateway = OsmoHlrCtrlGateway(hlr.ctrl)
    gateway.provision(imsi=IMSI, msisdn=MSISDN)
    return Network(gateway, SubscriberState.UNKNOWN)


@pytest.fixture(params=["emulator", "http"])
def emulated(
    request: pytest.FixtureRequest,
    emulator_store: EmulatorStore,
    clock: FrozenClock,
    serve_asgi: ServeAsgi,
    http_client: httpx.Client,
) -> EmulatedNetwork:
    return _emulated(request.param, emulator_store, clock, serve_asgi, http_client)


def bar(network: Network, request_id: str = "bar-1") -> SubscriberState:
    return network.gateway.bar(imsi=IMSI, msisdn=MSISDN, request_id=request_id)


def remove(network: Network, request_id: str = "remove-1") -> SubscriberState:
    return network.gateway.remove(imsi=IMSI, msisdn=MSISDN, request_id=request_id)


def test_a_provisioned_subscriber_is_active(network: Network) -> None:
    assert network.gateway.state(imsi=IMSI) is SubscriberState.ACTIVE


def test_an_unknown_imsi_is_reported_as_unknown(network: Network) -> None:
    assert network.gateway.state(imsi="250019999999999") is SubscriberState.UNKNOWN


def test_barring_an_active_subscriber_leaves_it_barred(network: Network) -> None:
    assert bar(network) is SubscriberState.BARRED
    assert network.gateway.state(imsi=IMSI) is SubscriberState.BARRED


def test_barring_a_barred_subscriber_again_succeeds(network: Network) -> None:
    bar(network, "bar-1")
    assert bar(network, "bar-2") is SubscriberState.BARRED


def test_removing_a_barred_subscriber_removes_it(network: Network) -> None:
    bar(network)
    assert remove(network) is SubscriberState.REMOVED
    assert network.gateway.state(imsi=IMSI) is network.gone


def test_removing_a_removed_subscriber_again_succeeds(network: Network) -> None:
    bar(network)
    remove(network, "remove-1")
    assert remove(network, "remove-2") is SubscriberState.REMOVED


def test_removing_an_active_subscriber_is_refused_until_it_is_barred(network: Network) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        remove(network)
    assert refused.value.code == "not-barred"
    assert network.gateway.state(imsi=IMSI) is SubscriberState.ACTIVE


def test_barring_a_removed_subscriber_reports_it_removed(network: Network) -> None:
    bar(network, "bar-1")
    remove(network)
    assert bar(network, "bar-2") is SubscriberState.REMOVED


@pytest.mark.parametrize("operation", ["bar", "remove"])
def test_an_unknown_subscriber_is_refused_permanently(
    emulated: EmulatedNetwork, operation: str
) -> None:
    call = emulated.gateway.bar if operation == "bar" else emulated.gateway.remove
    with pytest.raises(PermanentIntegrationError) as refused:
        call(imsi="250019999999999", msisdn=MSISDN, request_id="r-1")
    assert refused.value.code == "unknown-subscriber"


def test_a_request_for_another_msisdn_is_refused(network: Network) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        network.gateway.bar(imsi=IMSI, msisdn="+79160000000", request_id="r-1")
    assert refused.value.code == "msisdn-mismatch"
    assert network.gateway.state(imsi=IMSI) is SubscriberState.ACTIVE


def test_replaying_a_request_id_returns_the_first_answer(emulated: EmulatedNetwork) -> None:
    bar(emulated, "bar-1")
    remove(emulated, "remove-1")
    assert bar(emulated, "bar-1") is SubscriberState.BARRED
    assert emulated.gateway.state(imsi=IMSI) is SubscriberState.REMOVED


def test_reusing_a_request_id_for_another_operation_is_refused(
    emulated: EmulatedNetwork,
) -> None:
    bar(emulated, "same-id")
    with pytest.raises(PermanentIntegrationError) as refused:
        remove(emulated, "same-id")
    assert refused.value.code == "request-id-reused"


def test_an_injected_fault_is_transient_and_the_retry_succeeds(
    emulated: EmulatedNetwork,
) -> None:
    emulated.registry.fail_next(1)
    with pytest.raises(TransientIntegrationError):
        bar(emulated)
    assert emulated.gateway.state(imsi=IMSI) is SubscriberState.ACTIVE
    assert bar(emulated) is SubscriberState.BARRED


def test_an_injected_refusal_is_permanent(emulated: EmulatedNetwork) -> None:
    emulated.registry.fail_next(2, transient=False)
    with pytest.raises(PermanentIntegrationError):
        bar(emulated)
    with pytest.raises(PermanentIntegrationError):
        emulated.gateway.state(imsi=IMSI)
    assert emulated.gateway.state(imsi=IMSI) is SubscriberState.ACTIVE


def test_provisioning_the_same_line_again_changes_nothing(network: Network) -> None:
    assert network.gateway.provision(imsi=IMSI, msisdn=MSISDN) is SubscriberState.ACTIVE
    assert network.gateway.state(imsi=IMSI) is SubscriberState.ACTIVE


def test_provisioning_again_never_reactivates_a_barred_subscriber(network: Network) -> None:
    bar(network)
    assert network.gateway.provision(imsi=IMSI, msisdn=MSISDN) is SubscriberState.BARRED
    assert network.gateway.state(imsi=IMSI) is SubscriberState.BARRED


def test_provisioning_a_known_imsi_for_another_msisdn_is_refused(network: Network) -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        network.gateway.provision(imsi=IMSI, msisdn="+79160000000")
    assert refused.value.code == "imsi-in-use"


def test_a_closed_port_is_a_transient_failure(
    closed_port_url: str, http_client: httpx.Client
) -> None:
    gateway = HttpNetworkGateway(closed_port_url, http_client)
    with pytest.raises(TransientIntegrationError):
        gateway.state(imsi=IMSI)


def _state_from_canned_answer(status: int, content: bytes) -> SubscriberState:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        return HttpNetworkGateway("http://hss.invalid", client).state(imsi=IMSI)


@pytest.mark.parametrize("status", [429, 500, 502, 504])
def test_overload_and_server_errors_are_transient(status: int) -> None:
    with pytest.raises(TransientIntegrationError):
        _state_from_canned_answer(status, b"{}")


def test_a_refusal_without_a_json_body_carries_the_status_as_code() -> None:
    with pytest.raises(PermanentIntegrationError) as refused:
        _state_from_canned_answer(403, b"<html>forbidden</html>")
    assert refused.value.code == "http-403"


@pytest.mark.parametrize("content", [b"not json", b"[]", b'{"state": "melted"}'])
def test_a_garbled_success_answer_is_transient(content: bytes) -> None:
    with pytest.raises(TransientIntegrationError):
        _state_from_canned_answer(200, content)
