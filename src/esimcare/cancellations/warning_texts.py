"""The quote's warning codes and the delete-on-the-phone steps, worded in ru, en and zh.

``compute_quote`` speaks in codes; every door words them with this module, so the API and the
portal say the same thing. The English texts equal the portal's message ids.
"""

from __future__ import annotations

DEFAULT_LANGUAGE = "en"

WARNING_TEXTS: dict[str, dict[str, str]] = {
    "backup_data": {
        "en": "Back up what you need first: contacts and messages stored on the SIM, and "
        "anything tied to this number.",
        "ru": "Сначала сохраните нужное: контакты и сообщения на SIM и всё, что привязано "
        "к этому номеру.",
        "zh": "请先备份所需内容：SIM 上的联系人和短信，以及与此号码关联的一切。",
    },
    "number_used_for_codes": {
        "en": "Banks, government services and messengers may send codes to this number. Move "
        "them to another number before you cancel.",
        "ru": "Банки, госуслуги и мессенджеры могут присылать коды на этот номер. Перенесите "
        "их на другой номер до отмены.",
        "zh": "银行、政务服务和即时通讯应用可能会向此号码发送验证码。"
        "取消前请将它们改绑到其他号码。",
    },
    "delete_profile_on_device": {
        "en": "The eSIM profile is installed on your phone. It stays there until you delete it "
        "on the phone; we show you how after cancelling.",
        "ru": "Профиль eSIM установлен в телефоне и останется там, пока вы не удалите его в "
        "телефоне; после отмены мы покажем, как это сделать.",
        "zh": "eSIM 配置文件已安装在您的手机上，在您于手机上删除之前会一直保留；"
        "取消后我们会告诉您如何删除。",
    },
    "bonus_forfeited": {
        "en": "Bonus money is not refunded and is lost when the eSIM is cancelled.",
        "ru": "Бонусы не возвращаются и сгорают при отмене eSIM.",
        "zh": "赠送金额不予退还，取消 eSIM 后将失效。",
    },
    "debt_remains": {
        "en": "The final bill is more than your balance: a debt remains to be paid.",
        "ru": "Итоговый счёт больше баланса: останется долг, который нужно оплатить.",
        "zh": "最终账单超过您的余额：仍有欠款需要支付。",
    },
    "no_refund_by_policy": {
        "en": "This operator does not refund the remaining balance.",
        "ru": "Этот оператор не возвращает остаток средств.",
        "zh": "该运营商不退还剩余余额。",
    },
    "grace_period_undo": {
        "en": "The cancellation takes effect after a waiting period; until then you can undo it "
        "with the link we send you.",
        "ru": "Отмена вступит в силу после периода ожидания; до этого её можно отозвать по "
        "ссылке, которую мы пришлём.",
        "zh": "取消将在等待期结束后生效；在此之前，您可以通过我们发送的链接撤销。",
    },
    "number_quarantine": {
        "en": "Your number will not be given to anyone else until the quarantine date below.",
        "ru": "Ваш номер не передадут никому другому до даты окончания карантина, указанной ниже.",
        "zh": "在下方所示的隔离期结束日期之前，您的号码不会分配给他人。",
    },
}

DEVICE_STEPS: dict[str, dict[str, tuple[str, ...]]] = {
    "ios": {
        "en": (
            "Open Settings > Mobile Data (or Cellular).",
            "Tap this number's plan.",
            "Tap Delete eSIM and confirm.",
        ),
        "ru": (
            "Откройте Настройки > Сотовая связь.",
            "Выберите тариф этого номера.",
            "Нажмите «Удалить eSIM» и подтвердите.",
        ),
        "zh": ("打开“设置” > “蜂窝网络”。", "轻点此号码的套餐。", "轻点“删除 eSIM”并确认。"),
    },
    "android": {
        "en": (
            "Open Settings > Network & internet > SIMs.",
            "Tap this number's eSIM.",
            "Tap Erase SIM (or Delete) and confirm.",
        ),
        "ru": (
            "Откройте Настройки > Сеть и интернет > SIM-карты.",
            "Выберите eSIM этого номера.",
            "Нажмите «Стереть SIM-карту» (или «Удалить») и подтвердите.",
        ),
        "zh": (
            "打开“设置” > “网络和互联网” > “SIM 卡”。",
            "轻点此号码的 eSIM。",
            "轻点“清除 SIM 卡”（或“删除”）并确认。",
        ),
    },
}


def warning_text(code: str, language: str) -> str:
    """The sentence for a warning code; an unknown code is shown as itself, never dropped."""
    texts = WARNING_TEXTS.get(code)
    if texts is None:
        return code
    return texts.get(language) or texts[DEFAULT_LANGUAGE]


def device_steps(platform: str, language: str) -> tuple[str, ...]:
    """How to delete the profile on the phone (``platform`` is "ios" or "android")."""
    steps = DEVICE_STEPS[platform]
    return steps.get(language) or steps[DEFAULT_LANGUAGE]
