"""Words the portal builds from data: refund destinations, eSIM names, punctuation per language.

Each comes from the catalogs like every other text, so a Chinese page gets full-width colons
and brackets, and "card **** 4242" from the ledger reads "карта **** 4242" in Russian.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from esimcare.esims.models import Esim
from esimcare.esims.service import EsimView
from esimcare.esims.states import EsimStatus
from esimcare.i18n import N_, translate
from esimcare.kit.ids import InvalidIdentifierError, Msisdn

# How the ledger names a card top-up's source (see billing.models: "card **** 4242").
_CARD = re.compile(r"^card \*{4} (\d{4})$")


def refund_destination(destination: str, language: str) -> str:
    """A refund destination for people: a card in their words, a number masked, else as is."""
    card = _CARD.match(destination)
    if card:
        return translate(N_("card **** %(digits)s"), language, digits=card.group(1))
    try:
        return Msisdn.parse(destination).masked()
    except InvalidIdentifierError:
        return destination


def labelled(label: str, value: str, language: str) -> str:
    """ "Label: value" with the language's own colon (full-width in Chinese)."""
    return translate(N_("%(label)s: %(value)s"), language, label=label, value=value)


def in_brackets(text: str, language: str) -> str:
    return translate(N_("(%(text)s)"), language, text=text)


def plan_name(view: EsimView, language: str) -> str:
    names = view.plan.names
    return names.get(language) or names.get("en") or view.plan.code


def esim_title(view: EsimView, language: str) -> str:
    return esim_name(view.esim, plan_name(view, language))


def esim_name(esim: Esim, plan_name: str) -> str:
    """A readable name for an eSIM: its own label, else the plan and the number's last digits
    ("Travel ·0236"), so two eSIMs of one plan can be told apart."""
    if esim.label:
        return esim.label
    return f"{plan_name} ·{esim.msisdn[-4:]}"


def short_name(esim: Esim) -> str:
    """Where the plan is not at hand: the label, else "eSIM ·0236"."""
    return esim_name(esim, "eSIM")


@dataclass(frozen=True)
class EsimGroups:
    current: list[EsimView]
    cancelled: list[EsimView]


def group_by_state(views: Iterable[EsimView]) -> EsimGroups:
    """Working eSIMs (and those being cancelled) first; cancelled ones in a list of their own."""
    items = list(views)
    cancelled = [view for view in items if view.esim.status is EsimStatus.CANCELLED]
    current = [view for view in items if view.esim.status is not EsimStatus.CANCELLED]
    return EsimGroups(current, cancelled)
