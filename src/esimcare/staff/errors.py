"""The staff side's business failures, rendered like every other DomainError."""

from __future__ import annotations

from esimcare.errors import AuthenticationError, ForbiddenError, InvalidInputError, NotFoundError
from esimcare.i18n import N_


class StaffLoginFailedError(AuthenticationError):
    code = "staff-login-failed"
    title = N_("The e-mail, password or code is wrong, or the account is locked")


class StaffSessionEndedError(AuthenticationError):
    code = "staff-session-ended"
    title = N_("The console session has ended; log in again")


class SecondFactorRequiredError(ForbiddenError):
    code = "second-factor-required"
    title = N_("Finish logging in with your second factor first")


class RoleForbiddenError(ForbiddenError):
    code = "role-forbidden"
    title = N_("Your role does not allow this")


class SetupLinkInvalidError(NotFoundError):
    code = "staff-setup-link-invalid"
    title = N_("This set-up link is not valid or has expired")


class PasskeyRejectedError(InvalidInputError):
    commit_before_raising = True
    code = "passkey-rejected"
    title = N_("The passkey could not be verified")
