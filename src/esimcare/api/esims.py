"""The caller's eSIMs and the operator's cancellation reasons."""

from __future__ import annotations

from fastapi import APIRouter

from esimcare.api.deps import AuthDep, CtxDep, LanguageDep, PolicyDep
from esimcare.api.problems import CUSTOMER, OPERATOR, problem_responses
from esimcare.api.render import esim_out, reasons_out
from esimcare.api.schemas import EsimList, EsimOut, ReasonList
from esimcare.api.types import EntityId
from esimcare.db import transaction
from esimcare.esims.service import get_esim, list_esims

router = APIRouter(
    prefix="/api/v1/{operator}", tags=["esims"], responses=problem_responses(*OPERATOR)
)


@router.get("/esims", summary="The caller's eSIMs", responses=problem_responses(*CUSTOMER))
def list_my_esims(auth: AuthDep, ctx: CtxDep, language: LanguageDep) -> EsimList:
    customer = auth.customer
    with transaction(ctx.readers) as session:
        views = list_esims(session, customer.operator_id, customer.id)
        return EsimList(items=[esim_out(view, language) for view in views])


@router.get(
    "/esims/{esim_id}", summary="One of the caller's eSIMs", responses=problem_responses(*CUSTOMER)
)
def get_my_esim(esim_id: EntityId, auth: AuthDep, ctx: CtxDep, language: LanguageDep) -> EsimOut:
    customer = auth.customer
    with transaction(ctx.readers) as session:
        return esim_out(get_esim(session, customer.operator_id, customer.id, esim_id), language)


@router.get("/cancellation-reasons", summary="Reasons a customer may give")
def cancellation_reasons(policy: PolicyDep, language: LanguageDep) -> ReasonList:
    return reasons_out(policy, language)
