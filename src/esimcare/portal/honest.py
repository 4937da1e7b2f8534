"""What the portal says when something stands in the way, and what it offers next.

Each refusal names its reason and, when it lifts at a known time, until when (in the operator's
zone); it offers what the operator allows instead (another verification method, the hotline).
The words are msgids, translated where the page is rendered.
"""

from __future__ import annotations

from esimcare.errors import CodeExpiredError, DomainError, ResendTooSoonError, WrongCodeError
from esimcare.portal import texts
from esimcare.portal.flash import Flash
from esimcare.portal.i18n import N_

QUOTE_EXPIRED = N_(
    "The quote you saw has run out (a quote holds for %(minutes)s minutes), so nothing was "
    "changed. Here is a fresh quote: please check the figures, then continue."
)
SMS_PAUSE = N_(
    "We sent a code less than a minute ago, so we cannot send another yet. You can ask for a "
    "new code from %(until)s."
)
SMS_HOURLY = N_(
    "We cannot send more codes by SMS now: %(count)s codes went to your number in the last "
    "hour, the most we send. You can ask for a new code from %(until)s."
)
CODE_WRONG = N_("The code is wrong. Attempts left: %(left)s.")
CODE_LAST_TRY = N_(
    "The code is wrong, and that was its last attempt: this code is used up. Send a new code "
    "to try again."
)
CODE_USED_UP = N_("This code is used up after too many wrong attempts. Send a new code.")
PASSWORD_WRONG = N_("The password is wrong.")
CODE_SENT = N_("We have sent a new code.")
SESSION_ENDED = N_("Your session ended. Log in again, and we will take you back to that page.")
CALL_HOTLINE = N_("Or call the hotline:")
# Offered when SMS cannot be used; a method the operator allows is offered only with its text.
OTHER_METHOD = {
    "passkey": N_("Confirm with your face or fingerprint (passkey) instead."),
    "password": N_("Confirm with your password instead."),
}


def sms_refused(error: ResendTooSoonError, sends_per_hour: int) -> Flash:
    """Why no code can be sent, until when, and what else the customer can do."""
    until = error.extra.get("retry_at")
    if error.extra.get("limit") == "hourly":
        message, params = SMS_HOURLY, {"count": sends_per_hour, "until": until}
    else:
        message, params = SMS_PAUSE, {"until": until}
    return Flash(message, params, offers=("other_methods", "hotline"))


def code_refused(error: WrongCodeError | CodeExpiredError) -> Flash:
    if isinstance(error, CodeExpiredError):
        if error.extra.get("used_up"):
            return Flash(CODE_USED_UP, offers=("resend",))
        return Flash(texts.ERROR["code-expired"], offers=("resend",))
    left = error.extra.get("attempts_left")
    if left is None:
        return Flash(PASSWORD_WRONG)
    if int(left) <= 0:
        return Flash(CODE_LAST_TRY, offers=("resend", "other_methods"))
    return Flash(CODE_WRONG, {"left": left})


def refused(error: DomainError) -> Flash:
    """Any other refusal, in our words, with the hotline."""
    return Flash(texts.ERROR.get(error.code, texts.GENERIC_DETAIL), offers=("hotline",))
