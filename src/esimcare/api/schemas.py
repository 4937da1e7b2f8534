"""The API's request and response bodies. Requests refuse unknown fields and oversized strings."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- requests -------------------------------------------------------------------------------


class LoginRequest(RequestBody):
    login: str = Field(min_length=1, max_length=254, description="E.164 phone number or e-mail")
    # security.md: at least 64 characters allowed; more than 128 is no password we issued.
    password: str = Field(min_length=1, max_length=128)


_REFUND_TO = (
    "The number to refund to, for operators that refund to another number: E.164, or a "
    "national number of the operator's region (9161234567 in RU is +79161234567)"
)


class QuoteRequest(RequestBody):
    refund_to: str | None = Field(default=None, max_length=20, description=_REFUND_TO)


class CancellationRequest(RequestBody):
    reason: str = Field(min_length=1, max_length=40)
    comment: str | None = Field(default=None, max_length=500)
    refund_to: str | None = Field(default=None, max_length=20, description=_REFUND_TO)
    quote_id: str | None = Field(
        default=None,
        max_length=400,
        description="the id of the quote the customer saw: executed exactly as quoted while it "
        "holds (409 quote-expired with a link to a fresh quote after)",
    )


class SmsVerification(RequestBody):
    method: Literal["sms"]
    code: str = Field(min_length=1, max_length=12)


class PasswordVerification(RequestBody):
    method: Literal["password"]
    password: str = Field(min_length=1, max_length=128)


class PasskeyAssertionResponse(RequestBody):
    """AuthenticatorAssertionResponse as base64url strings (WebAuthn Level 3, toJSON())."""

    client_data_json: str = Field(alias="clientDataJSON", min_length=1, max_length=4096)
    authenticator_data: str = Field(alias="authenticatorData", min_length=1, max_length=4096)
    signature: str = Field(min_length=1, max_length=1024)
    user_handle: str | None = Field(default=None, alias="userHandle", max_length=256)


class PasskeyAssertion(RequestBody):
    """The browser's PublicKeyCredential for navigator.credentials.get(), as JSON."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(min_length=1, max_length=1024)
    raw_id: str = Field(alias="rawId", min_length=1, max_length=1024)
    type: Literal["public-key"]
    response: PasskeyAssertionResponse
    authenticator_attachment: str | None = Field(
        default=None, alias="authenticatorAttachment", max_length=40
    )
    client_extension_results: dict[str, bool] = Field(
        default_factory=dict, alias="clientExtensionResults", max_length=10
    )


class PasskeyVerification(RequestBody):
    """Answer the options of ``passkey-options`` for this same cancellation, within 5 min."""

    method: Literal["passkey"]
    credential: PasskeyAssertion


Verification = Annotated[
    SmsVerification | PasswordVerification | PasskeyVerification, Field(discriminator="method")
]


# --- responses ------------------------------------------------------------------------------


class MoneyOut(BaseModel):
    amount: str = Field(examples=["350.00"])
    currency: str = Field(examples=["RUB"])


class SessionOut(BaseModel):
    token: str
    expires_at: Timestamp


class OperatorOut(BaseModel):
    id: str
    name: str
    hotline: str
    hotline_hours: str
    support_email: str


class OperatorList(BaseModel):
    items: list[OperatorOut]


class PlanOut(BaseModel):
    code: str
    name: str
    monthly_fee: MoneyOut


class BalanceOut(BaseModel):
    cash: MoneyOut
    bonus: MoneyOut


class EsimOut(BaseModel):
    id: int
    iccid: str
    msisdn: str
    label: str | None
    status: str
    profile_state: str
    plan: PlanOut
    balance: BalanceOut


class EsimList(BaseModel):
    items: list[EsimOut]


class ReasonOut(BaseModel):
    code: str
    label: str


class ReasonList(BaseModel):
    items: list[ReasonOut]


class WarningOut(BaseModel):
    code: str
    message: str


class QuoteOut(BaseModel):
    final_bill: MoneyOut
    final_bill_fee: MoneyOut
    final_bill_usage: MoneyOut
    refund: MoneyOut
    debt: MoneyOut
    bonus_forfeited: MoneyOut
    balance: BalanceOut
    refund_route: str
    refund_destination: str | None
    effective_at: Timestamp
    number_quarantine_until: Timestamp
    warnings: list[WarningOut]
    id: str | None = Field(default=None, description="quote id: pass it as quote_id")
    quoted_at: Timestamp | None = None
    valid_until: Timestamp | None = Field(
        default=None, description="confirmed before this, the cancellation executes this quote"
    )


class VerificationInfo(BaseModel):
    methods: list[str]
    sms_sent_to: str | None = Field(description="masked; null when no code was sent")
    sms_delivery: Literal["failed"] | None = Field(
        default=None, description='"failed" when the SMS gateway refused; ask for a new code'
    )


class CancellationCreated(BaseModel):
    id: int
    reference: str
    status: str
    quote: QuoteOut
    verification: VerificationInfo


class CodeSent(BaseModel):
    sms_sent_to: str
    expires_at: Timestamp
    sms_delivery: Literal["sent", "failed"]


class StatusOut(BaseModel):
    status: str


class StepOut(BaseModel):
    name: str
    status: str
    attempts: int
    outcome: str | None
    last_error: str | None
    external_answer: dict[str, str] | None = Field(
        default=None,
        description="What the external system answered (profile step: the SM-DP+'s "
        "CancelOrder status, subjectCode, reasonCode)",
        examples=[{"status": "Failed", "subjectCode": "8.2.1", "reasonCode": "3.3"}],
    )
    finished_at: Timestamp | None


class RefundOut(BaseModel):
    amount: str
    currency: str
    status: str
    route: str
    destination: str | None


class FinalBillOut(BaseModel):
    amount: str
    currency: str
    fee: MoneyOut
    usage: MoneyOut
    period_start: Timestamp
    period_end: Timestamp
    issued_at: Timestamp


class DeviceInstructions(BaseModel):
    ios: list[str]
    android: list[str]


class DeviceProfileOut(BaseModel):
    """What we know of the profile on the phone: deleted (the SM-DP+ told us when), or not yet
    known to be deleted. The cancellation never waits for this: phones report it best effort."""

    state: Literal["deleted", "waiting_for_deletion"]
    deleted_at: Timestamp | None
    message: str


class CancellationOut(BaseModel):
    id: int
    reference: str
    status: str
    reason: str
    esim_id: int
    quote: QuoteOut
    steps: list[StepOut]
    refund: RefundOut | None
    final_bill: FinalBillOut | None
    failure_reason: str | None
    created_at: Timestamp
    completed_at: Timestamp | None
    effective_at: Timestamp
    device_instructions: DeviceInstructions | None
    device_profile: DeviceProfileOut | None = None


class OutboxItem(BaseModel):
    to: str
    channel: str
    subject: str | None
    body: str
    sent_at: Timestamp


class OutboxList(BaseModel):
    items: list[OutboxItem]


class Health(BaseModel):
    status: Literal["ok"]


class CredentialDescriptorOut(BaseModel):
    type: str = Field(examples=["public-key"])
    id: str = Field(description="base64url credential id")
    transports: list[str] | None = None


class PasskeyOptionsOut(BaseModel):
    """PublicKeyCredentialRequestOptions as JSON: decode ``challenge`` and each
    ``allowCredentials[].id`` from base64url, pass to navigator.credentials.get()."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    challenge: str = Field(description="base64url; bound to this cancellation, single use, 5 min")
    timeout: int | None = None
    rp_id: str = Field(alias="rpId")
    allow_credentials: list[CredentialDescriptorOut] = Field(alias="allowCredentials")
    user_verification: str = Field(alias="userVerification", examples=["required"])
