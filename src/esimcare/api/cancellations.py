"""Quote, request, verify, follow and undo a cancellation."""

from __future__ import annotations

import copy
import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from esimcare.api.deps import AuthDep, CtxDep, LanguageDep, client_ip, customer_in
from esimcare.api.idempotent import IdempotentCall
from esimcare.api.problems import CUSTOMER, IDEMPOTENT, JSON_BODY, OPERATOR, problem_responses
from esimcare.api.render import cancellation_out, load_details, masked_number, quote_out
from esimcare.api.schemas import (
    CancellationCreated,
    CancellationOut,
    CancellationRequest,
    CodeSent,
    PasskeyOptionsOut,
    PasskeyVerification,
    PasswordVerification,
    QuoteOut,
    QuoteRequest,
    SmsVerification,
    StatusOut,
    Verification,
    VerificationInfo,
)
from esimcare.api.types import EntityId
from esimcare.cancellations import operations, service
from esimcare.cancellations.operations import CancellationDetails
from esimcare.cancellations.quote_hold import QuoteExpiredError
from esimcare.cancellations.service import Requested
from esimcare.customers.identity import CustomerKey
from esimcare.db import transaction
from esimcare.idempotency.service import StoredResponse
from esimcare.kit.clock import iso

router = APIRouter(
    prefix="/api/v1/{operator}", tags=["cancellations"], responses=problem_responses(*OPERATOR)
)

IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.post(
    "/esims/{esim_id}/cancellation-quote",
    summary="What cancelling would do",
    responses=problem_responses(*CUSTOMER, *JSON_BODY, 409, 423),
)
def quote(
    esim_id: EntityId,
    auth: AuthDep,
    ctx: CtxDep,
    language: LanguageDep,
    body: Annotated[QuoteRequest | None, Body()] = None,
) -> QuoteOut:
    """A dry run by the code that later executes; changes nothing."""
    refund_to = body.refund_to if body else None
    with transaction(ctx.sessions) as session:
        customer = customer_in(session, auth)
        result = service.quote_for(session, ctx, customer, esim_id, refund_to)
        return quote_out(result.to_json(), language)


@router.post(
    "/esims/{esim_id}/cancellations",
    status_code=status.HTTP_201_CREATED,
    response_model=CancellationCreated,
    summary="Request a cancellation (Idempotency-Key required)",
    # 403: no verification method is trusted now (an SMS number just moved to a new phone).
    responses=problem_responses(*CUSTOMER, *JSON_BODY, *IDEMPOTENT, 403, 409, 423),
)
def create_cancellation(
    esim_id: EntityId,
    body: CancellationRequest,
    auth: AuthDep,
    ctx: CtxDep,
    language: LanguageDep,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    path = f"/api/v1/{auth.customer.operator_id}/esims/{esim_id}/cancellations"
    once = IdempotentCall.of(ctx, idempotency_key, auth.customer, path=path, body=body)

    def describe(session: Session, requested: Requested) -> StoredResponse:
        return StoredResponse(status.HTTP_201_CREATED, _created(requested, language))

    try:
        outcome = operations.do_request_cancellation(
            ctx, CustomerKey.of(auth.customer), esim_id, CancellationDetails(**body.model_dump()),
            once=once, describe=describe, ip=client_ip(request),
        )  # fmt: skip
    except QuoteExpiredError as error:
        raise _with_fresh_quote_link(error, auth.customer.operator_id) from None
    answer = copy.deepcopy(outcome.ran.answer.body)
    if outcome.code_sent is False:
        answer["verification"]["sms_delivery"] = "failed"
    return JSONResponse(answer, status_code=outcome.ran.answer.status_code)


def _with_fresh_quote_link(error: QuoteExpiredError, operator_id: str) -> QuoteExpiredError:
    """The problem names where the fresh quote is (POST it, then request with its id)."""
    esim_id = error.extra.get("esim_id")
    error.extra["fresh_quote"] = f"/api/v1/{operator_id}/esims/{esim_id}/cancellation-quote"
    return error


def _created(requested: Requested, language: str) -> dict[str, Any]:
    methods = [m.value for m in requested.methods]
    cancellation = requested.cancellation
    sms_to = masked_number(requested.sms_to) if requested.sms_to else None
    return CancellationCreated(
        id=cancellation.id,
        reference=cancellation.reference,
        status=cancellation.status.value,
        quote=quote_out(cancellation.quote, language),
        verification=VerificationInfo(methods=methods, sms_sent_to=sms_to),
    ).model_dump(mode="json")


@router.post(
    "/cancellations/{cancellation_id}/verification-code",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a new SMS code",
    responses=problem_responses(*CUSTOMER, 409, 429),
)
def resend_code(cancellation_id: EntityId, auth: AuthDep, ctx: CtxDep) -> CodeSent:
    resent = operations.do_resend_code(ctx, auth.customer.id, cancellation_id)
    return CodeSent(
        sms_sent_to=masked_number(auth.customer.phone),
        expires_at=iso(resent.expires_at),
        sms_delivery="sent" if resent.sent else "failed",
    )


@router.post(
    "/cancellations/{cancellation_id}/verification",
    summary="Confirm it is you",
    # 422 also: a passkey answer that does not verify (origin, challenge, signature, flags).
    responses=problem_responses(*CUSTOMER, *JSON_BODY, 409, 429),
)
def verify(
    cancellation_id: EntityId,
    body: Annotated[Verification, Body()],
    auth: AuthDep,
    ctx: CtxDep,
    request: Request,
) -> StatusOut:
    secret = _secret_of(body)
    try:
        cancellation = operations.do_verify_cancellation(
            ctx, CustomerKey.of(auth.customer), cancellation_id, method=body.method, secret=secret,
            ip=client_ip(request),
        )  # fmt: skip
    except QuoteExpiredError as error:
        raise _with_fresh_quote_link(error, auth.customer.operator_id) from None
    return StatusOut(status=cancellation.status.value)


def _secret_of(body: SmsVerification | PasswordVerification | PasskeyVerification) -> str:
    if isinstance(body, PasskeyVerification):
        return json.dumps(body.credential.model_dump(by_alias=True))
    return body.code if isinstance(body, SmsVerification) else body.password


@router.post(
    "/cancellations/{cancellation_id}/passkey-options",
    summary="Start confirming with a passkey",
    # 422 also: passkeys are not among the methods (none registered, or the operator's policy).
    responses=problem_responses(*CUSTOMER, 409),
)
def passkey_options(cancellation_id: EntityId, auth: AuthDep, ctx: CtxDep) -> PasskeyOptionsOut:
    """Options for navigator.credentials.get() (user verification required). Send the answer
    to ``verification`` with ``{"method": "passkey", "credential": {...}}`` within 5 minutes;
    it confirms this cancellation only, once. The relying party is the site in
    ESIMCARE_PUBLIC_URL."""
    options = operations.do_passkey_options(ctx, auth.customer.id, cancellation_id)
    return PasskeyOptionsOut.model_validate(options)


@router.get(
    "/cancellations/{cancellation_id}",
    summary="Follow a cancellation",
    responses=problem_responses(*CUSTOMER),
)
def get_cancellation(
    cancellation_id: EntityId, auth: AuthDep, ctx: CtxDep, language: LanguageDep
) -> CancellationOut:
    with transaction(ctx.sessions) as session:
        customer = customer_in(session, auth)
        cancellation = service.get_cancellation(session, customer, cancellation_id)
        return cancellation_out(load_details(session, cancellation), language)


@router.post(
    "/cancellations/{cancellation_id}/undo",
    summary="Undo while scheduled",
    responses=problem_responses(*CUSTOMER, 409),
)
def undo(cancellation_id: EntityId, auth: AuthDep, ctx: CtxDep, request: Request) -> StatusOut:
    cancellation = operations.do_undo_cancellation(
        ctx, auth.customer.id, cancellation_id, ip=client_ip(request)
    )
    return StatusOut(status=cancellation.status.value)
