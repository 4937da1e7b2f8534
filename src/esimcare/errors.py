"""One base domain error; each business failure is a subclass carrying its HTTP status.

The web doors render these once (problem+json for the API, a readable page for the portal);
services raise them and never import the web framework.
"""

from __future__ import annotations

from typing import Any, ClassVar

from esimcare.i18n import N_


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = N_("Bad request")
    # Failures that must be counted (wrong codes, failed logins) keep what they wrote.
    commit_before_raising: ClassVar[bool] = False
    # The API answers the title in the caller's language (ru/en/zh catalogs); only errors a
    # machine reads and no person sees (the ES2+ receiver's, whose caller is an SM-DP+) opt out.
    translated: ClassVar[bool] = True

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class NotFoundError(DomainError):
    status = 404
    code = "not-found"
    title = N_("Not found")


class InvalidInputError(DomainError):
    status = 422
    code = "invalid-input"
    title = N_("Invalid input")


class AuthenticationError(DomainError):
    commit_before_raising = True
    status = 401
    code = "unauthenticated"
    title = N_("Login or password is wrong, or the session has ended")


class ForbiddenError(DomainError):
    status = 403
    code = "forbidden"
    title = N_("Not allowed")


class ConflictError(DomainError):
    status = 409
    code = "conflict"
    title = N_("Conflict with the current state")


class CancellationInProgressError(ConflictError):
    code = "cancellation-in-progress"
    title = N_("This eSIM already has an open cancellation")


class EsimNotCancellableError(ConflictError):
    code = "esim-not-cancellable"
    title = N_("This eSIM cannot be cancelled in its current state")


class DebtOutstandingError(ConflictError):
    code = "debt-outstanding"
    title = N_("The account has a debt that must be paid before cancelling")


class InvalidTransitionError(ConflictError):
    code = "invalid-transition"
    title = N_("Not possible in the current state")


class IdempotencyKeyReusedError(DomainError):
    status = 422
    code = "idempotency-key-reused"
    title = N_("This Idempotency-Key was already used with a different request")


class IdempotencyKeyInFlightError(ConflictError):
    code = "idempotency-key-in-flight"
    title = N_("A request with this Idempotency-Key is still being processed")


class IdempotencyKeyMissingError(DomainError):
    status = 400
    code = "idempotency-key-missing"
    title = N_("The Idempotency-Key header is required")


class WrongCodeError(DomainError):
    commit_before_raising = True
    status = 422
    code = "wrong-code"
    title = N_("The code is wrong")


class CodeExpiredError(DomainError):
    commit_before_raising = True
    status = 422
    code = "code-expired"
    title = N_("The code has expired or was already used; ask for a new one")


class VerificationLockedError(DomainError):
    commit_before_raising = True
    status = 429
    code = "verification-locked"
    title = N_("Too many wrong attempts; verification is locked for a while")


class LoginThrottledError(DomainError):
    """Too many failed logins from this client address: wait (Retry-After) and try again.
    Keyed by the login as typed, never by the account, so it says nothing about who exists."""

    status = 429
    code = "login-throttled"
    title = N_("Too many failed logins from here; wait before trying again")


class PasswordWorkBusyError(DomainError):
    status = 429
    code = "busy"
    title = N_("Too many logins are being checked right now; try again in a moment")


class PasswordTooLongError(InvalidInputError):
    code = "password-too-long"
    title = N_("A password has at most 128 characters")


class ResendTooSoonError(DomainError):
    status = 429
    code = "resend-too-soon"
    title = N_("A code was sent recently; wait before asking for another")


class MethodNotAllowedError(DomainError):
    status = 422
    code = "verification-method-not-allowed"
    title = N_("This operator does not offer that verification method")


class PayloadTooLargeError(DomainError):
    status = 413
    code = "payload-too-large"
    title = N_("The request body is too large")


class AccountLockedError(DomainError):
    status = 423
    code = "account-locked"
    title = N_("The account is locked against cancellation")


class CancellationExpiredError(ConflictError):
    code = "cancellation-expired"
    title = N_("This cancellation request was not verified in time; start a new one")
    commit_before_raising = True


class RefundDestinationRequiredError(DomainError):
    status = 422
    code = "refund-destination-required"
    title = N_("This operator refunds to another phone number: give it as refund_to")


class InternalError(DomainError):
    """Rendered for unexpected exceptions: no details leak, the log has them."""

    status = 500
    code = "internal-error"
    title = N_("Something went wrong on our side; nothing was changed, please try again")
