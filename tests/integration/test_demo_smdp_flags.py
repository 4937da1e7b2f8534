"""`esimcare demo --smdp-url`: every demo operator talks ES2+ to that SM-DP+, and the banner
says where each operator's notifications go."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from sqlalchemy import select

from esimcare.config import Mode, Settings
from esimcare.context import Context
from esimcare.esims.models import Esim, Plan
from esimcare.integrations.factory import build_smdp_gateways
from esimcare.integrations.smdp.es2plus_client import Es2PlusClient
from esimcare.operators.policy import PolicyError
from esimcare.runtime import build_context, prepare_database
from esimcare.sandbox.demo_data import seed_demo, write_demo_operators_file
from esimcare.sandbox.demo_smdp import smdp_banner, use_profile_type, with_demo_smdp
from esimcare.sandbox.stand_ins import smdp_emulator_of, stand_ins_of


def flags(url: str | None, profile_type: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(
        smdp_url=url,
        smdp_requester_id="op-demo",
        smdp_notifier_id="their-smdp",
        smdp_profile_type=profile_type,
    )


def settings(tmp_path: Path, mode: Mode = Mode.DEVELOPMENT) -> Settings:
    built = Settings.from_env(data_dir=tmp_path, mode=mode, secret_key=b"k")
    write_demo_operators_file(built.operators_file)
    return built


def test_every_operator_gets_an_es2plus_client_for_the_given_url(tmp_path: Path) -> None:
    derived = with_demo_smdp(settings(tmp_path), flags("http://127.0.0.1:9/smdp"))
    ctx = build_context(derived)
    try:
        assert all(isinstance(gateway, Es2PlusClient) for gateway in ctx.smdp.values())
        assert smdp_emulator_of(ctx) is None
        assert ctx.policy("mts").smdp_link.notification_requester_id == "their-smdp"
        banner = smdp_banner(ctx, "http://127.0.0.1:8000")
        assert "http://127.0.0.1:8000/es2plus/mts" in banner
        assert "phone install" not in banner
    finally:
        ctx.engine.dispose()
        stand_ins_of(ctx).close()
    assert "notification_requester_id" not in (tmp_path / "operators.toml").read_text()


def test_without_the_flag_the_demo_uses_the_emulator_and_prints_the_phone_commands(
    demo: Context,
) -> None:
    banner = smdp_banner(demo, "http://127.0.0.1:8000")
    assert "esimcare phone install" in banner
    assert "--emulator-url http://127.0.0.1:8000/smdp-emulator" in banner


def test_the_profile_type_flag_sets_every_plan_and_its_absence_restores_them(
    demo: Context,
) -> None:
    use_profile_type(demo, "their-type")
    with demo.sessions() as session:
        assert set(session.scalars(select(Plan.profile_type))) == {"their-type"}
    use_profile_type(demo, None)
    with demo.sessions() as session:
        assert "mts-travel" in set(session.scalars(select(Plan.profile_type)))


def test_demo_customers_of_an_external_smdp_have_no_seeded_esims(tmp_path: Path) -> None:
    ctx = build_context(with_demo_smdp(settings(tmp_path), flags("http://127.0.0.1:9")))
    try:
        prepare_database(ctx)
        assert seed_demo(ctx)
        with ctx.sessions() as session:
            assert session.scalars(select(Plan)).first() is not None
            assert session.scalars(select(Esim)).first() is None
    finally:
        ctx.engine.dispose()
        stand_ins_of(ctx).close()


@pytest.mark.parametrize(
    ("table", "refusal"),
    [
        ({"url": "http://smdp.example", "requester_id": "op"}, "https://"),
        ({}, "emulator is a development stand-in"),
    ],
)
def test_production_refuses_plain_http_and_the_emulator_for_an_smdp(
    demo: Context, table: dict[str, str], refusal: str
) -> None:
    with pytest.raises(ValueError, match=refusal):
        build_smdp_gateways(
            {"mts": table},
            development=False,
            base_dir=demo.settings.data_dir,
            sessions=demo.sessions,
            stand_ins=None,
            clock=demo.clock,
        )


def test_an_smdp_url_without_a_notification_requester_is_a_policy_error(tmp_path: Path) -> None:
    base = settings(tmp_path)
    text = base.operators_file.read_text().replace(
        'name = "MTS (demo)"', 'name = "MTS (demo)"\nsmdp = { url = "https://smdp.example" }'
    )
    base.operators_file.write_text(text)
    with pytest.raises(PolicyError, match="notification_requester_id"):
        build_context(base)
