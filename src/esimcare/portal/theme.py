"""A theme per operator: its brand colour as CSS custom properties, in a stylesheet of its own.

The Content-Security-Policy allows styles only from our own files (no inline ``style``), so the
colour is served as ``/theme/<operator>.css``. Text on the brand colour is black or white,
whichever contrasts more (WCAG 2.x relative luminance), so a yellow brand stays readable.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from esimcare.errors import NotFoundError
from esimcare.portal.deps import get_ctx

router = APIRouter()
BLACK, WHITE = "#111111", "#ffffff"


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def luminance(color: str) -> float:
    """WCAG relative luminance of "#rrggbb"."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio, from 1 (none) to 21 (black on white)."""
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def ink_on(background: str) -> str:
    """Black or white text, whichever is easier to read on ``background``."""
    on_black, on_white = contrast_ratio(background, BLACK), contrast_ratio(background, WHITE)
    return BLACK if on_black > on_white else WHITE


def theme_css(brand: str) -> str:
    return f":root {{ --brand: {brand}; --brand-ink: {ink_on(brand)}; }}\n"


@router.get("/theme/{op}.css")
def operator_theme(request: Request, op: str) -> Response:
    policy = get_ctx(request).policies.get(op)
    if policy is None:
        raise NotFoundError("no such operator")
    return Response(
        theme_css(policy.brand_color),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
