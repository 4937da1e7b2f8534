"""Plans, ordering a new eSIM (Idempotency-Key required) and its activation QR code."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.responses import Response

from esimcare.api.deps import AuthDep, CtxDep, LanguageDep, PolicyDep
from esimcare.api.idempotent import IdempotentCall
from esimcare.api.problems import CUSTOMER, IDEMPOTENT, JSON_BODY, OPERATOR, problem_responses
from esimcare.api.render import money, plan_name
from esimcare.api.schemas import MoneyOut, RequestBody
from esimcare.api.types import EntityId
from esimcare.db import transaction
from esimcare.esims.activation_qr import activation_code_of, qr_png, qr_svg
from esimcare.esims.models import Esim
from esimcare.esims.operations import do_order_esim
from esimcare.esims.ordering import plans_of
from esimcare.esims.service import get_esim
from esimcare.idempotency.service import StoredResponse

router = APIRouter(
    prefix="/api/v1/{operator}", tags=["ordering"], responses=problem_responses(*OPERATOR)
)
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


class PlanOffer(BaseModel):
    code: str
    name: str
    price: MoneyOut
    profile_type: str


class PlanOffers(BaseModel):
    items: list[PlanOffer]


class OrderRequest(RequestBody):
    plan: str = Field(min_length=1, max_length=40)
    eid: str | None = Field(default=None, max_length=40, description="32 digits; optional")


class Ordered(BaseModel):
    id: int
    iccid: str
    msisdn: str
    activation_code: str = Field(examples=["LPA:1$smdp.example.com$K7QW2-9HXPM-4RTZB-CD3FN"])
    status: str
    profile_state: str


@router.get("/plans", summary="Plans a new eSIM can be ordered with")
def list_plans(policy: PolicyDep, ctx: CtxDep, language: LanguageDep) -> PlanOffers:
    with transaction(ctx.sessions) as session:
        plans = plans_of(session, policy.operator_id)
        return PlanOffers(
            items=[
                PlanOffer(
                    code=plan.code,
                    name=plan_name(plan, language),
                    price=money(plan.monthly_fee_minor, plan.currency),
                    profile_type=plan.profile_type,
                )
                for plan in plans
            ]
        )


@router.post(
    "/esims",
    status_code=status.HTTP_201_CREATED,
    response_model=Ordered,
    summary="Order a new eSIM (Idempotency-Key required): DownloadOrder + ConfirmOrder",
    # 409: out of stock or numbers; 429: ordering limits; 502/503: the SM-DP+ failed us.
    responses=problem_responses(*CUSTOMER, *JSON_BODY, *IDEMPOTENT, 429, 502, 503),
)
def order(
    body: OrderRequest, auth: AuthDep, ctx: CtxDep, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    customer = auth.customer
    path = f"/api/v1/{customer.operator_id}/esims"
    once = IdempotentCall.of(ctx, idempotency_key, customer, path=path, body=body)

    def describe(esim: Esim) -> StoredResponse:
        return StoredResponse(status.HTTP_201_CREATED, ordered_out(esim))

    ran = do_order_esim(ctx, customer, body.plan, body.eid, once=once, describe=describe)
    return JSONResponse(ran.answer.body, status_code=ran.answer.status_code)


def ordered_out(esim: Esim) -> dict[str, Any]:
    return Ordered(
        id=esim.id,
        iccid=esim.iccid,
        msisdn=esim.msisdn,
        activation_code=esim.activation_code or "",
        status=esim.status.value,
        profile_state=esim.profile_state.value,
    ).model_dump(mode="json")


def _activation_code(ctx: CtxDep, auth: AuthDep, esim_id: int) -> str:
    customer = auth.customer
    with transaction(ctx.sessions) as session:
        view = get_esim(session, customer.operator_id, customer.id, esim_id)
        return activation_code_of(view.esim)


_QR_HEADERS = {"Cache-Control": "private, no-store"}
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
_QR_REFUSALS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such eSIM on this account, or it was not ordered here", **_PROBLEM},
    409: {"description": "The eSIM is being cancelled (shown again if that is undone)", **_PROBLEM},
    410: {"description": "The eSIM was cancelled: its activation code no longer works", **_PROBLEM},
}


@router.get(
    "/esims/{esim_id}/activation-qr.png",
    summary="The activation code as a QR code (PNG)",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}, **problem_responses(*CUSTOMER), **_QR_REFUSALS},
)
def activation_qr_png(esim_id: EntityId, auth: AuthDep, ctx: CtxDep) -> Response:
    code = _activation_code(ctx, auth, esim_id)
    return Response(qr_png(code), media_type="image/png", headers=_QR_HEADERS)


@router.get(
    "/esims/{esim_id}/activation-qr.svg",
    summary="The activation code as a QR code (SVG)",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}},
        **problem_responses(*CUSTOMER),
        **_QR_REFUSALS,
    },
)
def activation_qr_svg(esim_id: EntityId, auth: AuthDep, ctx: CtxDep) -> Response:
    code = _activation_code(ctx, auth, esim_id)
    return Response(qr_svg(code), media_type="image/svg+xml", headers=_QR_HEADERS)
