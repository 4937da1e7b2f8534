"""The staff side's business failures, rendered like every other DomainError."""

from __future__ import annotations

from esimcare.errors import AuthenticationError, ForbiddenError, InvalidInputError, NotFoundError


class StaffLoginFailedError(AuthenticationError):
    code = "staff-login-failed"
    title = "The e-mail, password or code is wrong, or the account is locked"


class StaffSessionEndedError(AuthenticationError):
    code = "staff-session-ended"
    title = "The console session has ended; log in again"


class SecondFactorRequiredError(ForbiddenError):
    code = "second-factor-required"
    title = "Finish logging in with your second factor first"


class RoleForbiddenError(ForbiddenError):
    code = "role-forbidden"
    title = "Your role does not allow this"


class SetupLinkInvalidError(NotFoundError):
    code = "staff-setup-link-invalid"
    title = "This set-up link is not valid or has expired"


class PasskeyRejectedError(InvalidInputError):
    commit_before_raising = True
    code = "passkey-rejected"
    title = "The passkey could not be verified"
