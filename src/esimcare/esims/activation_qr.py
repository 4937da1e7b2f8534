"""The activation code as a QR code (SGP.22 v2.2 4.1: the LPA scans ``LPA:1$addr$matchingId``)."""

from __future__ import annotations

import io

import segno

from esimcare.errors import CancellationInProgressError, DomainError, NotFoundError
from esimcare.esims.models import Esim
from esimcare.esims.states import EsimStatus
from esimcare.i18n import N_

SCALE = 8
BORDER = 4  # the quiet zone scanners need (ISO/IEC 18004)


class NoActivationCodeError(NotFoundError):
    code = "no-activation-code"
    title = N_("This eSIM has no activation code (it was not ordered here)")


class ActivationCodeWithdrawnError(DomainError):
    status = 410
    code = "activation-code-withdrawn"
    title = N_("This eSIM was cancelled: its QR code and activation code no longer work")


def activation_code_of(esim: Esim) -> str:
    """The code to install ``esim`` with, only while the contract is live: a cancelled eSIM's
    code is gone (410) even if a notification or a failed step left its profile downloadable,
    and one being cancelled is not handed out again (409) unless the cancellation is undone."""
    if not esim.activation_code:
        raise NoActivationCodeError()
    if esim.status is EsimStatus.CANCELLED or esim.profile_state.withdrawn_at_smdp:
        raise ActivationCodeWithdrawnError()
    if esim.status is EsimStatus.CANCELLATION_PENDING:
        raise CancellationInProgressError(
            "This eSIM is being cancelled: its QR code is shown again only if you undo that"
        )
    return esim.activation_code


def qr_png(code: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(code, error="m", micro=False).save(buffer, kind="png", scale=SCALE, border=BORDER)
    return buffer.getvalue()


def qr_svg(code: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(code, error="m", micro=False).save(
        buffer, kind="svg", scale=SCALE, border=BORDER, title="eSIM activation code"
    )
    return buffer.getvalue()


def qr_svg_data_uri(code: str) -> str:
    """For the portal page: an ``img`` the CSP allows (``img-src 'self' data:``)."""
    uri: str = segno.make(code, error="m", micro=False).svg_data_uri(scale=6, border=BORDER)
    return uri
