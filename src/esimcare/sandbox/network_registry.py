"""NetworkRegistry: the built-in stand-in for the operator's HSS/HLR provisioning.

It keeps subscribers in its own database and enforces the real order of operations (bar, then
remove), so the cancellation workflow is tested against the refusals a real HSS gives and not
against a fake that says yes to everything. Each ``request_id`` is remembered: replaying it
returns the first answer, reusing it for another operation is refused.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import String, Table, bindparam, insert, literal, select, update
from sqlalchemy.orm import Mapped, mapped_column

from esimcare.db import UtcDateTime, enum_type
from esimcare.integrations.errors import PermanentIntegrationError
from esimcare.integrations.network.interface import SubscriberState
from esimcare.kit.clock import Clock
from esimcare.sandbox.faults import FaultInjector
from esimcare.sandbox.store import EmulatorBase, EmulatorStore


class EmulatedSubscriber(EmulatorBase):
    __tablename__ = "emulator_subscribers"

    imsi: Mapped[str] = mapped_column(String(15), primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(16))
    state: Mapped[SubscriberState] = mapped_column(enum_type(SubscriberState))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class EmulatedNetworkRequest(EmulatorBase):
    """A processed request: the replay answer and the guard against reusing a request id."""

    __tablename__ = "emulator_network_requests"

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    imsi: Mapped[str] = mapped_column(String(15))
    action: Mapped[str] = mapped_column(String(8))
    result: Mapped[SubscriberState] = mapped_column(enum_type(SubscriberState))
    processed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class NetworkRegistry:
    """Implements ``NetworkGateway``; ``fail_next`` injects faults (an emulator-only feature)."""

    def __init__(self, store: EmulatorStore, clock: Clock) -> None:
        self._sessions = store.sessions
        self._engine = store.engine
        self._clock = clock
        self._faults = FaultInjector("network registry")

    def fail_next(self, n: int, *, transient: bool = True) -> None:
        """Make the next ``n`` bar/remove/state calls fail (transient: like an HSS overload)."""
        self._faults.fail_next(n, transient=transient)

    def provision(self, *, imsi: str, msisdn: str) -> SubscriberState:
        """Add an active subscriber (ordering and demo seeding).

        Provisioning a known IMSI again with the same MSISDN changes nothing, so re-running a
        seed never undoes a cancellation; with another MSISDN it is refused.
        """
        with self._sessions.begin() as session:
            subscriber = session.get(EmulatedSubscriber, imsi)
            if subscriber is None:
                subscriber = EmulatedSubscriber(
                    imsi=imsi, msisdn=msisdn, state=SubscriberState.ACTIVE, updated_at=self._now()
                )
                session.add(subscriber)
            elif subscriber.msisdn != msisdn:
                raise PermanentIntegrationError(
                    f"IMSI {imsi} belongs to another MSISDN", code="imsi-in-use"
                )
            return subscriber.state

    def state(self, *, imsi: str) -> SubscriberState:
        self._faults.check()
        with self._sessions() as session:
            subscriber = session.get(EmulatedSubscriber, imsi)
            return SubscriberState.UNKNOWN if subscriber is None else subscriber.state

    def bar(self, *, imsi: str, msisdn: str, request_id: str) -> SubscriberState:
        """Stop service. Barring a barred or already removed subscriber succeeds unchanged."""
        return self._apply("bar", imsi=imsi, msisdn=msisdn, request_id=request_id)

    def remove(self, *, imsi: str, msisdn: str, request_id: str) -> SubscriberState:
        """Delete the subscription; refused while still active, as a real HSS refuses it."""
        return self._apply("remove", imsi=imsi, msisdn=msisdn, request_id=request_id)

    def _apply(self, action: str, *, imsi: str, msisdn: str, request_id: str) -> SubscriberState:
        """One transaction on Core statements (no ORM objects): the request's first answer and
        the subscriber, read together; the new state and the request written after."""
        self._faults.check()
        with self._engine.begin() as connection:
            found = connection.execute(
                _REQUEST_AND_SUBSCRIBER, {"request": request_id, "subscriber": imsi}
            ).one()
            if found.replay_imsi is not None:
                if found.replay_imsi != imsi or found.replay_action != action:
                    raise PermanentIntegrationError(
                        f"request id {request_id} was used for another operation",
                        code="request-id-reused",
                    )
                return SubscriberState(found.replay_result)
            if found.state is None:
                raise PermanentIntegrationError(f"no subscriber {imsi}", code="unknown-subscriber")
            if found.msisdn != msisdn:
                raise PermanentIntegrationError(
                    f"IMSI {imsi} is not provisioned for that MSISDN", code="msisdn-mismatch"
                )
            current = SubscriberState(found.state)
            result = _transition(action, current)
            now = self._now()
            if result is not current:
                connection.execute(_SET_STATE, {"subscriber": imsi, "state": result,
                                                "updated_at": now})  # fmt: skip
            connection.execute(
                _REMEMBER,
                {"request_id": request_id, "imsi": imsi, "action": action, "result": result,
                 "processed_at": now},
            )  # fmt: skip
            return result

    def _now(self) -> datetime:
        return self._clock.now()


_SUBSCRIBERS = cast(Table, EmulatedSubscriber.__table__)
_REQUESTS = cast(Table, EmulatedNetworkRequest.__table__)
_REPLAY = _REQUESTS.alias("replay")
# One row whatever exists: the request's first answer (if any) beside the subscriber (if any).
_REQUEST_AND_SUBSCRIBER = (
    select(
        _REPLAY.c.imsi.label("replay_imsi"),
        _REPLAY.c.action.label("replay_action"),
        _REPLAY.c.result.label("replay_result"),
        _SUBSCRIBERS.c.state,
        _SUBSCRIBERS.c.msisdn,
    )
    .select_from(select(literal(1).label("one")).subquery("anchor"))
    .outerjoin(_REPLAY, _REPLAY.c.request_id == bindparam("request"))
    .outerjoin(_SUBSCRIBERS, _SUBSCRIBERS.c.imsi == bindparam("subscriber"))
)
_SET_STATE = update(_SUBSCRIBERS).where(_SUBSCRIBERS.c.imsi == bindparam("subscriber"))
_REMEMBER = insert(_REQUESTS)


def _transition(action: str, current: SubscriberState) -> SubscriberState:
    """The HSS order: active -> barred -> removed; repeating a step is a no-op."""
    if action == "bar":
        return (
            SubscriberState.REMOVED
            if current is SubscriberState.REMOVED
            else SubscriberState.BARRED
        )
    if current is SubscriberState.ACTIVE:
        raise PermanentIntegrationError("bar the subscriber before removing it", code="not-barred")
    return SubscriberState.REMOVED
