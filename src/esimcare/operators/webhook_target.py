"""An operator's ``[webhooks]`` table: where its own systems want events, and the secret."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

MIN_SECRET_CHARS = 24


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    secret: str = field(repr=False)  # never printed or logged

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> WebhookTarget | None:
        """None when the table is absent (no webhooks); ValueError when it is wrong."""
        if not raw:
            return None
        url, secret = str(raw.get("url", "")), str(raw.get("secret", ""))
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"webhooks.url must be an http(s) URL, not {url!r}")
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"webhooks.secret must be at least {MIN_SECRET_CHARS} characters")
        return cls(url=url, secret=secret)

    @property
    def encrypted(self) -> bool:
        return urlsplit(self.url).scheme == "https"
