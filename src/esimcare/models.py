"""Imports every feature's tables so metadata (and Alembic) sees them all."""

from esimcare.audit.models import AuditEvent, AuditHead
from esimcare.billing.models import Bill, LedgerEntry, Refund, UsageRecord
from esimcare.bulk.models import BulkJob, BulkLine
from esimcare.cancellations.models import (
    Cancellation,
    CancellationStep,
    CancellationTransition,
    NumberQuarantine,
)
from esimcare.customers.models import (
    AuthSession,
    Customer,
    LoginThrottle,
    OneTimeCode,
    VerificationFailure,
)
from esimcare.customers.passkey_models import CustomerPasskey, PasskeyChallenge
from esimcare.db import Base
from esimcare.esims.models import Esim, EsimOrder, Plan
from esimcare.esims.notifications import Es2PlusNotification
from esimcare.idempotency.models import IdempotencyRecord
from esimcare.integrations.smdp.call_log import Es2PlusCall
from esimcare.jobs.models import Job
from esimcare.notices.models import Notice
from esimcare.operators.models import Operator
from esimcare.staff.models import StaffMember, StaffPasskey, StaffSession, SupportRequest
from esimcare.webhooks.models import WebhookAttempt, WebhookDelivery

__all__ = [
    "AuditEvent",
    "AuditHead",
    "AuthSession",
    "Base",
    "Bill",
    "BulkJob",
    "BulkLine",
    "Cancellation",
    "CancellationStep",
    "CancellationTransition",
    "Customer",
    "CustomerPasskey",
    "Es2PlusCall",
    "Es2PlusNotification",
    "Esim",
    "EsimOrder",
    "IdempotencyRecord",
    "Job",
    "LedgerEntry",
    "LoginThrottle",
    "Notice",
    "NumberQuarantine",
    "OneTimeCode",
    "Operator",
    "PasskeyChallenge",
    "Plan",
    "Refund",
    "StaffMember",
    "StaffPasskey",
    "StaffSession",
    "SupportRequest",
    "UsageRecord",
    "VerificationFailure",
    "WebhookAttempt",
    "WebhookDelivery",
]
