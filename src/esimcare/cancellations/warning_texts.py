"""The quote's warning codes and the delete-on-the-phone steps, as English message ids.

``compute_quote`` speaks in codes; every door words them with this module, so the API and the
portal say the same thing. The translations live in the shared catalogs (``esimcare.i18n``).
"""

from __future__ import annotations

from esimcare.i18n import N_, translate

WARNING_TEXTS: dict[str, str] = {
    "backup_data": N_(
        "Back up what you need first: contacts and messages stored on the SIM, and anything "
        "tied to this number."
    ),
    "number_used_for_codes": N_(
        "Banks, government services and messengers may send codes to this number. Move them "
        "to another number before you cancel."
    ),
    "delete_profile_on_device": N_(
        "The eSIM profile is installed on your phone. It stays there until you delete it on "
        "the phone; we show you how after cancelling."
    ),
    "bonus_forfeited": N_("Bonus money is not refunded and is lost when the eSIM is cancelled."),
    "debt_remains": N_("The final bill is more than your balance: a debt remains to be paid."),
    "no_refund_by_policy": N_("This operator does not refund the remaining balance."),
    "grace_period_undo": N_(
        "The cancellation takes effect after a waiting period; until then you can undo it with "
        "the link we send you."
    ),
    "number_quarantine": N_(
        "Your number will not be given to anyone else until the quarantine date below."
    ),
}

DEVICE_STEPS: dict[str, tuple[str, ...]] = {
    "ios": (
        N_("Open Settings > Mobile Data (or Cellular)."),
        N_("Tap this number's plan."),
        N_("Tap Delete eSIM and confirm."),
    ),
    "android": (
        N_("Open Settings > Network & internet > SIMs."),
        N_("Tap this number's eSIM."),
        N_("Tap Erase SIM (or Delete) and confirm."),
    ),
}


def warning_text(code: str, language: str) -> str:
    """The sentence for a warning code; an unknown code is shown as itself, never dropped."""
    text = WARNING_TEXTS.get(code)
    return code if text is None else translate(text, language)


def device_steps(platform: str, language: str) -> tuple[str, ...]:
    """How to delete the profile on the phone (``platform`` is "ios" or "android")."""
    return tuple(translate(step, language) for step in DEVICE_STEPS[platform])
