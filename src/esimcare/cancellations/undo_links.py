"""The one-click undo link: never stored in clear, written into the message only when it is sent.

The token is an HMAC of the cancellation under the secret key, so it can be derived again at
send time; the database keeps only its hash (``cancellations.undo_token_hash``) and the stored
notice keeps a mark naming the cancellation. Someone who reads the database (or a backup)
therefore finds no working undo link in it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from sqlalchemy.orm import Session

from esimcare.cancellations.models import Cancellation
from esimcare.kit.tokens import digest

_MARK = re.compile(r"\[\[undo-link:(\d{1,10})\]\]")


def undo_token(key: bytes, cancellation: Cancellation) -> str:
    subject = f"undo:{cancellation.operator_id}:{cancellation.id}:{cancellation.reference}"
    mac = hmac.new(key, subject.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def undo_token_hash(key: bytes, cancellation: Cancellation) -> str:
    """What ``cancellations.undo_token_hash`` keeps of the token."""
    return digest(undo_token(key, cancellation))


def undo_mark(cancellation: Cancellation) -> str:
    """The mark that stands for the link in the stored notice."""
    return f"[[undo-link:{cancellation.id}]]"


def undo_url(public_url: str, operator_id: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/{operator_id}/undo/{token}"


def with_undo_links(session: Session, key: bytes, public_url: str, body: str) -> str:
    """The message as sent: each mark replaced by its link. A link that would not work (the
    secret key changed since) is left out rather than sent dead."""

    def link(found: re.Match[str]) -> str:
        cancellation = session.get(Cancellation, int(found.group(1)))
        if cancellation is None or cancellation.undo_token_hash is None:
            return ""
        token = undo_token(key, cancellation)
        if not hmac.compare_digest(digest(token), cancellation.undo_token_hash):
            return ""
        return undo_url(public_url, cancellation.operator_id, token)

    return _MARK.sub(link, body)
