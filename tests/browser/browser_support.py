"""What the browser tests share besides fixtures: the served app and screenshots."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

from esimcare.context import Context

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


@dataclass(frozen=True)
class LiveServer:
    url: str
    ctx: Context

    def sms_code(self, phone: str, timeout_s: float = 5.0) -> str:
        """The newest one-time code in the development SMS outbox."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in self.ctx.sms.messages(to=phone):  # type: ignore[attr-defined]
                found = re.search(r"\b(\d{6})\b", message.body)
                if found:
                    return found.group(1)
            time.sleep(0.1)
        raise AssertionError(f"no code sent to {phone}")


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
