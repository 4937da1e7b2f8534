"""The look: brand colours from the policy, readable text on them, a focus ring that shows."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import esimcare.portal
from esimcare.operators.policy import PolicyError, parse_policy
from esimcare.portal.theme import contrast_ratio, ink_on, theme_css
from esimcare.sandbox.demo_data import POLICIES

CSS = (Path(esimcare.portal.__file__).parent / "static" / "portal.css").read_text()


def css_variable(name: str) -> str:
    found = re.search(rf"--{name}:\s*(#[0-9a-fA-F]{{6}})", CSS)
    assert found, name
    return found.group(1)


def test_contrast_ratio_follows_wcag() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#777777", "#777777") == pytest.approx(1)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("background", ["bg", "card"])
def test_the_focus_ring_contrasts_at_least_3_to_1_with_the_page(background: str) -> None:
    assert contrast_ratio(css_variable("focus"), css_variable(background)) >= 3


def demo_policies() -> dict[str, dict[str, object]]:
    with POLICIES.open("rb") as handle:
        operators: dict[str, dict[str, object]] = tomllib.load(handle)["operators"]
    return operators


@pytest.mark.parametrize("operator", ["mts", "beeline", "megafon"])
def test_each_demo_operator_has_its_own_colour_with_readable_text_on_it(operator: str) -> None:
    policy = parse_policy(operator, demo_policies()[operator])
    assert policy.brand_color != "#0b5cad"
    assert contrast_ratio(policy.brand_color, ink_on(policy.brand_color)) >= 4.5
    assert f"--brand: {policy.brand_color};" in theme_css(policy.brand_color)


def test_yellow_gets_dark_text_and_dark_red_gets_white() -> None:
    assert ink_on("#f2c200") == "#111111"
    assert ink_on("#8b0000") == "#ffffff"


@pytest.mark.parametrize(
    ("field", "value"),
    [("brand_color", "red"), ("brand_color", "#12345"), ("pay_url", "http://pay.example/")],
)
def test_a_wrong_brand_colour_or_pay_address_stops_start_up(field: str, value: str) -> None:
    raw = {**demo_policies()["megafon"], field: value}
    with pytest.raises(PolicyError, match=field):
        parse_policy("megafon", raw)
