"""Words for codes: statuses, steps, warnings, refund routes and errors, as English msgids.

Services speak in codes (enums, warning codes, error classes); the portal words them here and
translates them in the template, where the reader's language is known.
"""

from __future__ import annotations

from esimcare.cancellations.states import CancellationStatus, StepName, StepStatus
from esimcare.esims.states import EsimStatus, ProfileState
from esimcare.operators.policy import RefundRoute
from esimcare.portal.i18n import N_

ESIM_STATUS = {
    EsimStatus.ACTIVE: N_("Active"),
    EsimStatus.CANCELLATION_PENDING: N_("Cancellation in progress"),
    EsimStatus.CANCELLED: N_("Cancelled"),
}

PROFILE_STATE = {
    ProfileState.ALLOCATED: N_("Being prepared"),
    ProfileState.LINKED: N_("Being prepared"),
    ProfileState.CONFIRMED: N_("Being prepared"),
    ProfileState.RELEASED: N_("Ready to download, never installed"),
    ProfileState.DOWNLOADED: N_("Downloaded to a phone"),
    ProfileState.INSTALLED: N_("Installed on a phone"),
    ProfileState.ERROR: N_("Download failed"),
    ProfileState.DISABLED: N_("On a phone, switched off"),
    ProfileState.DELETED: N_("Deleted from the phone"),
    ProfileState.AVAILABLE: N_("Withdrawn at the operator"),
    ProfileState.UNAVAILABLE: N_("Withdrawn at the operator"),
}

CANCELLATION_STATUS = {
    CancellationStatus.AWAITING_VERIFICATION: N_("Waiting for your confirmation"),
    CancellationStatus.SCHEDULED: N_("Scheduled"),
    CancellationStatus.PROCESSING: N_("In progress"),
    CancellationStatus.COMPLETED: N_("Completed"),
    CancellationStatus.FAILED: N_("Delayed: our staff are on it"),
    CancellationStatus.UNDONE: N_("Undone"),
    CancellationStatus.EXPIRED: N_("Expired"),
}

CANCELLATION_EXPLANATION = {
    CancellationStatus.AWAITING_VERIFICATION: N_(
        "Nothing has changed yet: confirm the request to go on."
    ),
    CancellationStatus.SCHEDULED: N_(
        "Your eSIM keeps working until the time below. Until then you can undo the request."
    ),
    CancellationStatus.PROCESSING: N_(
        "We are settling your account, switching off the line and releasing the profile."
    ),
    CancellationStatus.COMPLETED: N_("Your eSIM is cancelled. Nothing more is charged."),
    CancellationStatus.FAILED: N_(
        "One step could not be finished yet. Nothing is lost: our staff will complete it. "
        "You can call the hotline with the reference."
    ),
    CancellationStatus.UNDONE: N_("The request was undone. Your eSIM and number keep working."),
    CancellationStatus.EXPIRED: N_(
        "The request was not confirmed in time, so nothing was changed. Start again if you "
        "still want to cancel."
    ),
}

# Named as tasks, not as results, so a label reads true beside any state ("Waiting", "Done").
STEP = {
    StepName.FINAL_BILL: N_("Final bill and end of charges"),
    StepName.PROFILE: N_("Release of the eSIM profile"),
    StepName.NETWORK: N_("Switching the line off in the network"),
    StepName.REFUND: N_("Refund of the remaining balance"),
    StepName.NOTICE: N_("Confirmation to you"),
}

STEP_STATUS = {
    StepStatus.PENDING: N_("Waiting"),
    StepStatus.RUNNING: N_("In progress"),
    StepStatus.DONE: N_("Done"),
    StepStatus.FAILED: N_("Failed"),
}

STEP_OUTCOME = {
    "delete_on_device": N_("The profile is on your phone: delete it there (see below)."),
    "cancelled_at_smdp": N_("The profile was never downloaded and is now withdrawn."),
    "cancelled_at_smdp_reconciled": N_("The profile was never downloaded and is now withdrawn."),
    "refund_on_its_way": N_(
        "Refund sent, on its way: the payment provider has not confirmed it yet."
    ),
}

REFUND_ROUTE = {
    RefundRoute.CARD: N_("to the card the money came from"),
    RefundRoute.BANK_ACCOUNT: N_("to your bank account"),
    RefundRoute.ANOTHER_NUMBER: N_("to the balance of another phone number that you give below"),
    RefundRoute.NONE: N_("not refunded under this operator's rules"),
}

# What a domain error means to a subscriber; the key is DomainError.code.
ERROR = {
    "debt-outstanding": N_("Your account has a debt. Pay it first, then cancel the eSIM."),
    "cancellation-in-progress": N_("This eSIM already has a cancellation request."),
    "esim-not-cancellable": N_("This eSIM cannot be cancelled in its current state."),
    "account-locked": N_(
        "Cancellation is locked on your account. Call the hotline to lift the lock."
    ),
    "refund-destination-required": N_("Enter the phone number that should receive the refund."),
    "wrong-code": N_("The code is wrong."),
    "code-expired": N_("The code has expired or was already used. Ask for a new one."),
    "verification-locked": N_(
        "Too many wrong attempts. Confirmation is locked for a while; try later or call the "
        "hotline."
    ),
    "resend-too-soon": N_("A code was sent a moment ago. Wait a minute before asking again."),
    "cancellation-expired": N_(
        "This request was not confirmed in time. Start a new one if you still want to cancel."
    ),
    "invalid-transition": N_("That is no longer possible: the request has moved on."),
    "not-found": N_("We could not find that page or item."),
    "invalid-input": N_("Please check the form and try again."),
    "idempotency-key-in-flight": N_("Your request is still being processed. Wait a moment."),
    "sms-not-trusted": N_(
        "Your number was put on a phone only recently, so an SMS code cannot confirm a "
        "cancellation yet. Call the hotline: they will check who you are."
    ),
}

STATUS_TITLE = {
    400: N_("Something is wrong with the request"),
    401: N_("Please log in"),
    403: N_("This action is not allowed"),
    404: N_("Page not found"),
    405: N_("This action is not allowed"),
    409: N_("That is not possible right now"),
    413: N_("The form is too large"),
    422: N_("Please check what you entered"),
    423: N_("Locked"),
    410: N_("No longer available"),
    429: N_("Too many attempts"),
}
GENERIC_TITLE = N_("Something went wrong")
GENERIC_DETAIL = N_("Please try again in a minute, or call the hotline.")
