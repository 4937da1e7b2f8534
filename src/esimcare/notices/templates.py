"""Customer messages in Russian, English and Simplified Chinese.

Kept short enough for one or two SMS segments; the e-mail variant has a subject line. A code
SMS may arrive twice or late (SMS delivery is at least once), so its text says that only the
latest code counts, which is how codes are checked.
"""

from __future__ import annotations

from typing import Any

TEMPLATES: dict[str, dict[str, tuple[str, str]]] = {
    "verification_code": {
        "ru": (
            "Код подтверждения",
            "{operator}: код {code} для отмены eSIM {msisdn}. "
            "Никому его не сообщайте. Действует {minutes} мин. Верен только последний код.",
        ),
        "en": (
            "Verification code",
            "{operator}: code {code} to cancel eSIM {msisdn}. Never share it. Valid {minutes} min. "
            "Only the latest code counts.",
        ),
        "zh": (
            "验证码",
            "{operator}：取消 eSIM {msisdn} 的验证码 {code}。请勿告诉任何人。"
            "{minutes} 分钟内有效，仅以最新验证码为准。",
        ),
    },
    "cancellation_requested": {
        "ru": (
            "Запрошена отмена eSIM",
            "{operator}: запрошена отмена eSIM {msisdn}, номер "
            "заявки {reference}. Вступит в силу {effective}. {undo}Если это не вы, "
            "позвоните {hotline}.",
        ),
        "en": (
            "eSIM cancellation requested",
            "{operator}: cancellation of eSIM {msisdn} "
            "requested, reference {reference}. Takes effect {effective}. {undo}If this "
            "was not you, call {hotline}.",
        ),
        "zh": (
            "已申请取消 eSIM",
            "{operator}：已申请取消 eSIM {msisdn}，编号 {reference}。"
            "生效时间 {effective}。{undo}如非本人操作，请致电 {hotline}。",
        ),
    },
    "undo_hint": {
        "ru": ("", "Отменить заявку: {link} "),
        "en": ("", "To undo: {link} "),
        "zh": ("", "撤销申请：{link} "),
    },
    "cancellation_undone": {
        "ru": (
            "Отмена eSIM отозвана",
            "{operator}: заявка {reference} на отмену eSIM "
            "{msisdn} отозвана, номер продолжает работать.",
        ),
        "en": (
            "eSIM cancellation undone",
            "{operator}: cancellation {reference} of eSIM "
            "{msisdn} was undone; the number keeps working.",
        ),
        "zh": (
            "已撤销取消 eSIM",
            "{operator}：eSIM {msisdn} 的取消申请 {reference} 已撤销，号码继续有效。",
        ),
    },
    "cancellation_completed": {
        "ru": (
            "eSIM отменена",
            "{operator}: eSIM {msisdn} отменена (заявка {reference}). "
            "Итоговый счёт {bill}, возврат {refund}. {device}",
        ),
        "en": (
            "eSIM cancelled",
            "{operator}: eSIM {msisdn} is cancelled (reference "
            "{reference}). Final bill {bill}, refund {refund}. {device}",
        ),
        "zh": (
            "eSIM 已取消",
            "{operator}：eSIM {msisdn} 已取消（编号 {reference}）。"
            "最终账单 {bill}，退款 {refund}。{device}",
        ),
    },
    "delete_on_device_hint": {
        "ru": ("", "Профиль остался в телефоне: удалите его в настройках (Сотовая связь)."),
        "en": ("", "The profile is still on your phone: delete it in Settings (Mobile/Cellular)."),
        "zh": ("", "配置文件仍在手机上：请在“设置 > 蜂窝网络”中删除。"),
    },
}


def render(name: str, language: str, **params: Any) -> tuple[str, str]:
    variants = TEMPLATES[name]
    subject, body = variants.get(language) or variants["en"]
    return subject, body.format(**params)
