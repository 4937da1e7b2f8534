"""Back to where the customer was after logging in again: a ``next`` path, checked.

Only a relative path on this site, under the operator's own pages, is accepted: never an
absolute URL, a scheme-relative ``//host`` (or ``/\\host``, which browsers read the same), nor
control characters. Anything else falls back to the eSIM list.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import Request

from esimcare.portal.rendering import on_our_site

_MAX_LENGTH = 300
# A form's answer page is not where the customer was: its GET page is.
_ACTION_SUFFIXES = ("/verify/resend", "/undo")


def safe_next(operator_id: str, value: str | None) -> str | None:
    if not value or len(value) > _MAX_LENGTH or any(ord(ch) < 0x20 for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or "\\" in value or value.startswith("//"):
        return None
    if not parts.path.startswith(f"/{operator_id}/") or parts.path.endswith("/login"):
        return None
    return on_our_site(value)


def page_to_return_to(request: Request) -> str:
    """The GET page behind this request (the form's page for a POST)."""
    path = request.url.path
    if request.method != "GET":
        for suffix in _ACTION_SUFFIXES:
            if path.endswith(suffix):
                path = path.removesuffix("/resend") if suffix.endswith("resend") else path
                path = path.removesuffix("/undo")
                break
    return quote(path, safe="/")
