"""The receiver's first look at a body: the quick look at the text agrees with the full walk."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from esimcare.es2plus import notification_body
from esimcare.es2plus.notification_body import read_json_object
from esimcare.esims.profile_events import MalformedNotificationError

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=()), max_size=8)  # with surrogates
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=30,
)


def _outcome(body: bytes) -> Any:
    try:
        return read_json_object(body)
    except MalformedNotificationError as error:
        return str(error)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(max_size=6), _VALUES, max_size=4), st.booleans())
def test_the_quick_look_never_passes_what_the_full_walk_refuses(
    data: dict[str, Any], ascii_only: bool
) -> None:
    body = json.dumps(data, ensure_ascii=ascii_only, allow_nan=False).encode(
        "utf-8", "surrogatepass"
    )
    quick = _outcome(body)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(notification_body, "_plainly_storable", lambda _body: False)
        walked = _outcome(body)
    assert quick == walked


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 12345678901234567890}',
        b'{"a": [-99999999999999999999]}',
        b'{"a": "\\ud800"}',
        b"{" + b'"a": {' * 16 + b"}" * 16 + b"}",
    ],
)
def test_bodies_the_quick_look_hands_to_the_full_walk_are_refused(body: bytes) -> None:
    with pytest.raises(MalformedNotificationError):
        read_json_object(body)


def test_a_real_notification_takes_the_quick_look() -> None:
    body = json.dumps({
        "header": {"functionRequesterIdentifier": "smdp.example", "functionCallIdentifier": "7"},
        "iccid": "8999001000000000017", "timestamp": "2026-11-23T11:00:00Z",
        "notificationPointId": 4, "notificationPointStatus": {"status": "Executed-Success"},
    }).encode()  # fmt: skip
    assert notification_body._plainly_storable(body)
