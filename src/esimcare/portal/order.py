"""Ordering a new eSIM in the portal, and the page with its activation QR code.

The hidden one-time form token works as an Idempotency-Key (as on the cancel page): a double
click or a resent form leads to the same new eSIM instead of ordering two.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from esimcare.db import transaction
from esimcare.errors import DomainError
from esimcare.esims.activation_qr import activation_code_of, qr_svg_data_uri
from esimcare.esims.models import Esim, Plan
from esimcare.esims.operations import do_order_esim
from esimcare.esims.ordering import plans_of
from esimcare.esims.service import get_esim
from esimcare.idempotency.service import StoredResponse
from esimcare.kit.money import Money
from esimcare.kit.tokens import new_token
from esimcare.portal.deps import CsrfChecked, RowId, authenticate, form_once, get_ctx
from esimcare.portal.flash import Flash, flash_redirect, take_flash
from esimcare.portal.i18n import N_
from esimcare.portal.rendering import redirect, render

router = APIRouter()

ORDER_ERROR = {
    "smdp-unavailable": N_("The eSIM service is not reachable right now. Try again in a minute."),
    "smdp-out-of-stock": N_("There is no eSIM of this plan left right now. Try another plan."),
    "smdp-refused": N_("The eSIM service refused the order. Check the EID or call the hotline."),
    "smdp-bad-gateway": N_("The eSIM service answered wrongly. Call the hotline."),
    "numbers-exhausted": N_("There is no phone number left to give you. Call the hotline."),
    "invalid-input": N_("Choose a plan, and give the EID as 32 digits or leave it empty."),
    "open-esims-limit": N_(
        "You already have as many eSIMs as your operator allows. Cancel one you no longer "
        "need before ordering another."
    ),
    "order-rate-limited": N_(
        "You have ordered several eSIMs in the last hour. Please try again in %(minutes)s min."
    ),
}


def _form(request: Request, op: str, *, plan: str = "", eid: str = "", error: str | None = None,
          error_params: dict[str, object] | None = None) -> Response:  # fmt: skip
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
        plans = plans_of(session, op)
        return render(request, "order.html", policy=policy, customer=customer,
                      plans=plans, chosen=plan, eid=eid, error=error,
                      error_params=error_params or {}, plan_fee=_fee,
                      form_token=new_token())  # fmt: skip


def _refused(request: Request, op: str, plan: str, eid: str, error: DomainError) -> Response:
    """Back to the order form (Post/Redirect/Get), which says why in the reader's words
    (and when to retry, if known)."""
    message = ORDER_ERROR.get(error.code, ORDER_ERROR["smdp-bad-gateway"])
    retry_after = error.extra.get("retry_after")
    params: dict[str, object] = {}
    if error.code == "order-rate-limited":
        seconds = retry_after if isinstance(retry_after, int) else 3600
        params["minutes"] = max(1, -(-seconds // 60))  # rounded up
    answer = _again(request, op, plan, eid, Flash(message, params))
    if isinstance(retry_after, int):
        answer.headers["Retry-After"] = str(retry_after)
    return answer


def _again(request: Request, op: str, plan: str, eid: str, why: Flash) -> Response:
    typed = Flash(why.message, why.params, form={"plan": plan, "eid": eid})
    return flash_redirect(request, f"/{op}/order", typed)


def _fee(plan: Plan) -> Money:
    return Money(plan.monthly_fee_minor, plan.currency)


@router.get("/{op}/order")
def order_form(request: Request, op: str) -> Response:
    flash = take_flash(request)
    if flash is None:
        return _form(request, op)
    return _form(request, op, plan=flash.form.get("plan", ""), eid=flash.form.get("eid", ""),
                 error=flash.message, error_params=flash.params)  # fmt: skip


@router.post("/{op}/order")
def order_submit(
    request: Request, op: str, _csrf: CsrfChecked,
    plan: Annotated[str, Form(max_length=40)] = "",
    eid: Annotated[str, Form(max_length=64)] = "",
    form_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:  # fmt: skip
    ctx = get_ctx(request)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
    plan, eid = plan.strip(), eid.replace(" ", "").strip()
    if not plan or not form_token:
        return _again(request, op, plan, eid, Flash(ORDER_ERROR["invalid-input"]))
    once = form_once(ctx, f"portal-order:{op}:{customer.id}", form_token, f"order:{plan}:{eid}")

    def describe(esim: Esim) -> StoredResponse:
        return StoredResponse(303, {"location": _activation_url(op, esim.id)})

    try:
        ran = do_order_esim(ctx, customer, plan, eid or None, once=once, describe=describe)
    except DomainError as error:
        return _refused(request, op, plan, eid, error)
    return redirect(str(ran.answer.body["location"]))


def _activation_url(op: str, esim_id: int) -> str:
    return f"/{op}/esims/{esim_id}/activation"


@router.get("/{op}/esims/{esim_id}/activation")
def activation_page(request: Request, op: str, esim_id: RowId) -> Response:
    ctx = get_ctx(request)
    policy = ctx.policy(op)
    with transaction(ctx.sessions) as session:
        customer = authenticate(request, session, op).customer
        view = get_esim(session, op, customer.id, esim_id)
        code = activation_code_of(view.esim)
        return render(request, "activation.html", policy=policy, view=view, code=code,
                      qr=qr_svg_data_uri(code), smdp_address=code.split("$")[1],
                      matching_id=code.split("$")[2])  # fmt: skip
