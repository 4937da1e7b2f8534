"""One base domain error; each business failure is a subclass carrying its HTTP status.

The web doors render these once (problem+json for the API, a readable page for the portal);
services raise them and never import the web framework.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"
    # Failures that must be counted (wrong codes, failed logins) keep what they wrote.
    commit_before_raising: ClassVar[bool] = False

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra


class NotFoundError(DomainError):
    status = 404
    code = "not-found"
    title = "Not found"


class InvalidInputError(DomainError):
    status = 422
    code = "invalid-input"
    title = "Invalid input"


class AuthenticationError(DomainError):
    commit_before_raising = True
    status = 401
    code = "unauthenticated"
    title = "Login or password is wrong, or the session has ended"


class ForbiddenError(DomainError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class ConflictError(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict with the current state"


class CancellationInProgressError(ConflictError):
    code = "cancellation-in-progress"
    title = "This eSIM already has an open cancellation"


class EsimNotCancellableError(ConflictError):
    code = "esim-not-cancellable"
    title = "This eSIM cannot be cancelled in its current state"


class DebtOutstandingError(ConflictError):
    code = "debt-outstanding"
    title = "The account has a debt that must be paid before cancelling"


class InvalidTransitionError(ConflictError):
    code = "invalid-transition"
    title = "Not possible in the current state"


class IdempotencyKeyReusedError(DomainError):
    status = 422
    code = "idempotency-key-reused"
    title = "This Idempotency-Key was already used with a different request"


class IdempotencyKeyInFlightError(ConflictError):
    code = "idempotency-key-in-flight"
    title = "A request with this Idempotency-Key is still being processed"


class IdempotencyKeyMissingError(DomainError):
    status = 400
    code = "idempotency-key-missing"
    title = "The Idempotency-Key header is required"


class WrongCodeError(DomainError):
    commit_before_raising = True
    status = 422
    code = "wrong-code"
    title = "The code is wrong"


class CodeExpiredError(DomainError):
    commit_before_raising = True
    status = 422
    code = "code-expired"
    title = "The code has expired or was already used; ask for a new one"


class VerificationLockedError(DomainError):
    commit_before_raising = True
    status = 429
    code = "verification-locked"
    title = "Too many wrong attempts; verification is locked for a while"


class LoginThrottledError(DomainError):
    """Too many failed logins from this client address: wait (Retry-After) and try again.
    Keyed by the login as typed, never by the account, so it says nothing about who exists."""

    status = 429
    code = "login-throttled"
    title = "Too many failed logins from here; wait before trying again"


class PasswordWorkBusyError(DomainError):
    status = 429
    code = "busy"
    title = "Too many logins are being checked right now; try again in a moment"


class PasswordTooLongError(InvalidInputError):
    code = "password-too-long"
    title = "A password has at most 128 characters"


class ResendTooSoonError(DomainError):
    status = 429
    code = "resend-too-soon"
    title = "A code was sent recently; wait before asking for another"


class MethodNotAllowedError(DomainError):
    status = 422
    code = "verification-method-not-allowed"
    title = "This operator does not offer that verification method"


class PayloadTooLargeError(DomainError):
    status = 413
    code = "payload-too-large"
    title = "The request body is too large"


class AccountLockedError(DomainError):
    status = 423
    code = "account-locked"
    title = "The account is locked against cancellation"


class CancellationExpiredError(ConflictError):
    code = "cancellation-expired"
    title = "This cancellation request was not verified in time; start a new one"
    commit_before_raising = True


class RefundDestinationRequiredError(DomainError):
    status = 422
    code = "refund-destination-required"
    title = "This operator refunds to another phone number: give it as refund_to"


class InternalError(DomainError):
    """Rendered for unexpected exceptions: no details leak, the log has them."""

    status = 500
    code = "internal-error"
    title = "Something went wrong on our side; nothing was changed, please try again"
