"""The receiver's first look at a notification body: JSON we can store, or 400 (never a 500).

The raw body is kept as JSON (``es2plus_notifications.raw``) on SQLite and PostgreSQL, so
beyond "is it a JSON object" it must also be storable everywhere: no nesting deeper than a
notification ever needs (and no RecursionError while parsing), no integer beyond 64 bits, no
NaN or Infinity (not JSON, and PostgreSQL refuses them), no lone surrogate (``"\\ud800"``
cannot be encoded as UTF-8).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from esimcare.esims.profile_events import MalformedNotificationError

MAX_DEPTH = 16
_INT64 = range(-(2**63), 2**63)


def read_json_object(body: bytes) -> dict[str, Any]:
    return read_json_body(body)[0]


def read_json_body(body: bytes) -> tuple[dict[str, Any], str | None]:
    """The object, and the body as text when it is plain JSON that can be stored as it came
    (else None: it is serialised again for storing)."""
    try:
        # As ``json.loads(body, ...)`` reads bytes, with one decoder made once, not per call.
        data = _DECODER.decode(body.decode(json.detect_encoding(body), "surrogatepass"))
    except (ValueError, UnicodeDecodeError):
        raise MalformedNotificationError("the body is not JSON") from None
    except RecursionError:
        raise MalformedNotificationError("the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise MalformedNotificationError("the body is not a JSON object")
    if _plainly_storable(body):
        return data, body.decode("ascii")
    _check_storable(data)
    return data, None


# A JSON number of 19 digits or more (the only way to an integer beyond 64 bits): numbers
# follow ``:``, ``,`` or ``[``; the same text inside a string only costs the full check.
_LONG_NUMBER = re.compile(rb"[:,\[]\s*-?\d{19}")


def _plainly_storable(body: bytes) -> bool:
    """True when the text alone shows that ``_check_storable`` would find nothing: too few brackets
    to nest deeper than ``MAX_DEPTH``, no lone surrogate (ASCII without ``\\u`` escapes has
    none), no long number. Every real notification; anything else gets the full walk."""
    return (
        body.count(b"{") + body.count(b"[") < MAX_DEPTH
        and body.isascii()
        and b"\\u" not in body
        and _LONG_NUMBER.search(body) is None
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("a number too large for a double")
    return number


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


def _check_storable(data: dict[str, Any]) -> None:
    """Walks the whole document without recursion (its depth is what is being checked)."""
    pending: list[tuple[object, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise MalformedNotificationError(f"the body is nested deeper than {MAX_DEPTH}")
        if isinstance(value, dict):
            for key in value:
                _check_text(key)
            pending.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_text(value)
        elif isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
            raise MalformedNotificationError("an integer beyond 64 bits")


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedNotificationError("a string that is not valid Unicode") from None
