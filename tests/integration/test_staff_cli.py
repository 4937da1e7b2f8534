"""`esimcare staff add` creates an account and prints its one-time set-up link."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from esimcare.cli import main
from esimcare.sandbox.demo_data import write_demo_operators_file


def test_staff_add_prints_a_set_up_link_and_refuses_a_second_account_with_the_email(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ESIMCARE_MODE", "development")
    monkeypatch.delenv("ESIMCARE_DATABASE_URL", raising=False)
    write_demo_operators_file(tmp_path / "operators.toml")
    command = [
        "staff",
        "add",
        "--data-dir",
        str(tmp_path),
        "--operator",
        "mts",
        "--role",
        "agent",
        "--email",
        "Olga@MTS.example",
    ]
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "olga@mts.example (agent, mts)" in printed
    assert re.search(r"http://127\.0\.0\.1:8000/staff/setup/[\w-]{40,}", printed)
    assert main(command) == 1
    assert "already exists" in capsys.readouterr().err
    platform = [
        "staff",
        "add",
        "--data-dir",
        str(tmp_path),
        "--platform",
        "--role",
        "agent",
        "--email",
        "root@example.com",
    ]
    assert main(platform) == 2
