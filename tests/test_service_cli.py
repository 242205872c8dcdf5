"""`quranbot service`: what can be checked without a running systemd. The unit it renders (verified by
systemd's own tool) and the clear refusals. Starting, restarting and the watchdog for real are the
system stage's (tests/system, a systemd in a container).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from processes import run_quranbot

from quranbot.cli.service import (
    HIDDEN_FROM_SERVICE,
    TEMPLATE_NAME,
    UNIT_NAME,
    ServiceError,
    describe,
    installed_executable,
    journal_command,
    machine_units,
    render_unit,
    require_root,
    require_systemd,
    require_token,
    retire_shards,
    shard_config,
    systemd_quote,
    unit_template,
    write_unit,
)
from quranbot.config.schema import Config

CHECKOUT = Path(__file__).resolve().parent.parent
TEMPLATE = CHECKOUT / "systemd" / UNIT_NAME
VENV_QURANBOT = Path(sys.executable).parent / "quranbot"
SYSTEMD_RUNNING = Path("/run/systemd/system").is_dir()


def verify(unit: Path) -> subprocess.CompletedProcess[str]:
    # verify exits 0 even for unknown keys and typos; only its stderr tells.
    return subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_the_rendered_unit_runs_the_installed_command_and_changes_nothing_else() -> None:
    template = TEMPLATE.read_text()
    rendered = render_unit(template, VENV_QURANBOT)
    assert f"ExecStart={VENV_QURANBOT} run --token-file %d/token\n" in rendered
    assert "/usr/local/bin/quranbot" not in rendered
    body = [line for line in rendered.splitlines() if not line.startswith("#")]
    original = [line for line in template.splitlines() if not line.startswith("#")]
    changed = [(a, b) for a, b in zip(body, original, strict=True) if a != b]
    assert changed == [(f"ExecStart={VENV_QURANBOT} run --token-file %d/token",
                        "ExecStart=/usr/local/bin/quranbot run --token-file %d/token")]  # fmt: skip
    assert rendered.startswith("# Written by `quranbot service install`")


def test_systemd_analyze_verify_is_silent_on_the_rendered_unit(tmp_path: Path) -> None:
    assert write_unit(render_unit(TEMPLATE.read_text(), VENV_QURANBOT), tmp_path)
    result = verify(tmp_path / UNIT_NAME)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_an_awkward_install_path_is_quoted_for_systemd(tmp_path: Path) -> None:
    """Spaces need quotes and `%` is a specifier in ExecStart: verify finds the executable all the same."""
    odd = executable(tmp_path / "my 100% $bot" / "quranbot")
    assert systemd_quote(Path("/opt/quranbot/bin/quranbot")) == "/opt/quranbot/bin/quranbot"
    assert systemd_quote(odd) == f'"{tmp_path}/my 100%% $bot/quranbot"'
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    write_unit(render_unit(TEMPLATE.read_text(), odd), unit_dir)
    result = verify(unit_dir / UNIT_NAME)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_write_unit_replaces_the_file_whole_and_reports_a_change(tmp_path: Path) -> None:
    unit = tmp_path / UNIT_NAME
    assert write_unit("[Unit]\n", tmp_path) is True
    assert unit.read_text() == "[Unit]\n" and unit.stat().st_mode & 0o777 == 0o644
    assert write_unit("[Unit]\n", tmp_path) is False
    assert write_unit("[Unit]\nDescription=x\n", tmp_path) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == [UNIT_NAME], "no temporary files left behind"


def test_a_template_without_the_expected_execstart_is_refused() -> None:
    with pytest.raises(ServiceError, match="one `ExecStart=/usr/local/bin/quranbot"):
        render_unit("[Service]\nExecStart=/usr/bin/other run\n", VENV_QURANBOT)


def test_the_template_comes_from_the_install_prefix_then_the_checkout(tmp_path: Path) -> None:
    shipped = tmp_path / "prefix" / "share" / "quranbot" / UNIT_NAME
    shipped.parent.mkdir(parents=True)
    shipped.write_text(TEMPLATE.read_text())
    assert unit_template(prefix=tmp_path / "prefix", checkout=CHECKOUT) == shipped
    assert unit_template(prefix=tmp_path / "none", checkout=CHECKOUT) == TEMPLATE
    with pytest.raises(ServiceError, match=r"re-run install\.sh"):
        unit_template(prefix=tmp_path / "none", checkout=tmp_path / "none")


def test_the_executable_is_the_wrapper_else_the_running_command(tmp_path: Path) -> None:
    wrapper = executable(tmp_path / "usr-local-bin" / "quranbot")
    assert installed_executable(wrapper=wrapper, argv0="/anything") == wrapper
    missing = tmp_path / "no-wrapper" / "quranbot"
    venv = executable(tmp_path / "venv" / "bin" / "quranbot")
    assert installed_executable(wrapper=missing, argv0=str(venv)) == venv.resolve()
    with pytest.raises(ServiceError, match=r"run install\.sh"):
        installed_executable(wrapper=missing, argv0=str(CHECKOUT / "quranbot" / "__main__.py"))


@pytest.mark.parametrize("hidden", HIDDEN_FROM_SERVICE)
def test_a_command_under_a_home_directory_is_refused(tmp_path: Path, hidden: Path) -> None:
    """ProtectHome=yes: the service could not even execute it."""
    with pytest.raises(ServiceError, match="ProtectHome=yes"):
        installed_executable(wrapper=tmp_path / "none", argv0=str(hidden / "someone" / ".venv/bin/quranbot"))


def test_without_systemd_the_checks_say_so(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match=r"systemd is not running .*quranbot run"):
        require_systemd(marker=tmp_path / "run-systemd-system")


def test_not_root_is_told_to_use_sudo() -> None:
    with pytest.raises(ServiceError, match=r"run it as root \(sudo quranbot service install\)"):
        require_root("install", euid=1000)
    require_root("install", euid=0)


def test_no_token_means_setup_first(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match=r"No bot token at .*: run `quranbot setup` first"):
        require_token(tmp_path / "token")
    (tmp_path / "token").write_text("x\n")
    require_token(tmp_path / "token")


def test_logs_is_journalctl_for_the_unit() -> None:
    assert journal_command(20, follow=False) == ["journalctl", "-u", UNIT_NAME, "-n", "20", "-o", "short-iso"]
    assert journal_command(5, follow=True)[-1] == "-f"


def test_status_line_reads_like_systemd() -> None:
    state = {"LoadState": "loaded", "ActiveState": "active", "SubState": "running", "MainPID": "812",
             "NRestarts": "2", "ActiveEnterTimestamp": "Tue 2026-05-12 10:00:00 UTC",
             "UnitFileState": "enabled", "Result": "success",
             "StatusText": "Reciting 1. Al-Faatiha"}  # fmt: skip
    line = describe(state)
    assert line.startswith(f"{UNIT_NAME}: active (running) since Tue 2026-05-12 10:00:00 UTC, pid 812")
    assert "2 automatic restarts" in line and "enabled at boot" in line and "Reciting 1." in line
    assert describe({"LoadState": "not-found"}) == f"{UNIT_NAME}: not installed"


@pytest.mark.skipif(SYSTEMD_RUNNING, reason="systemd is running here: the real stage is tests/system")
@pytest.mark.parametrize("command", [["install"], ["uninstall"], ["start"], ["stop"], ["restart"],
                                     ["status"], ["logs", "-n", "5"],
                                     ["install", "--shards", "2"]])  # fmt: skip
def test_every_command_fails_clearly_without_systemd(command: list[str]) -> None:
    result = run_quranbot("service", *command)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "error: systemd is not running on this machine (no /run/systemd/system)" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_service_is_a_registered_command() -> None:
    result = run_quranbot("service", "--help")
    assert result.returncode == 0
    for command in ("install", "uninstall", "start", "stop", "restart", "status", "logs"):
        assert command in result.stdout
    assert os.access(VENV_QURANBOT, os.X_OK)


def test_the_shard_template_renders_and_verifies(tmp_path: Path) -> None:
    template = unit_template(prefix=tmp_path / "none", checkout=CHECKOUT, name=TEMPLATE_NAME)
    rendered = render_unit(template.read_text(), VENV_QURANBOT)
    assert f"ExecStart={VENV_QURANBOT} run --token-file %d/token --shard-ids %i\n" in rendered
    assert write_unit(rendered, tmp_path, TEMPLATE_NAME)
    instance = tmp_path / "quranbot@0.service"  # what systemd loads for `systemctl start quranbot@0`
    instance.write_text((tmp_path / TEMPLATE_NAME).read_text())
    result = verify(instance)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_install_shards_writes_the_count_and_this_machines_ids() -> None:
    config = shard_config(Config(timezone="UTC"), "4", None)
    assert (config.shard_count, config.shard_ids, config.timezone) == (4, None, "UTC")
    assert machine_units(config) == tuple(f"quranbot@{n}.service" for n in range(4))
    two = shard_config(config, "4", "2,3")  # this machine runs half of them; another runs 0 and 1
    assert machine_units(two) == ("quranbot@2.service", "quranbot@3.service")
    assert machine_units(Config()) == (UNIT_NAME,)
    for shards, ids, reason in (("1", None, "--shards: 1 is no sharding"), ("two", None, "--shards: \"two\""),
                                ("2", "2", "--shard-ids: shard 2 is not one of shard_count's 2"),
                                ("2", "1,1", "--shard-ids: shard 1 is listed twice")):  # fmt: skip
        with pytest.raises(ServiceError, match=reason):
            shard_config(Config(), shards, ids)


def test_journal_follows_every_shard() -> None:
    units = ("quranbot@0.service", "quranbot@1.service")
    assert journal_command(5, follow=False, units=units)[:5] == ["journalctl", "-u", units[0], "-u", units[1]]


def test_install_shards_disables_the_instances_a_machine_no_longer_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From 4 shards to 2: quranbot@2 (enabled, running) and quranbot@3 (enabled, stopped) are retired;
    a stand-in systemctl answers list-units as systemd does and records every call."""
    bin_dir, calls, unit_dir = tmp_path / "bin", tmp_path / "calls", tmp_path / "units"
    (unit_dir / "multi-user.target.wants").mkdir(parents=True)
    for shard in (0, 1, 3):
        (unit_dir / "multi-user.target.wants" / f"quranbot@{shard}.service").symlink_to("/dev/null")
    (unit_dir / "multi-user.target.wants" / "quranbot.service").symlink_to("/dev/null")
    listing = "".join(f"quranbot@{n}.service loaded active running QuranBot shard {n}\\n" for n in (0, 1, 2))
    executable(bin_dir / "systemctl").write_text(
        f'#!/bin/sh\necho "$*" >> {calls}\n[ "$1" = list-units ] && printf "{listing}"\nexit 0\n'
    )
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    units = machine_units(Config(shard_count=2))
    assert retire_shards(units, unit_dir) == ["quranbot@2.service", "quranbot@3.service"]
    made = calls.read_text().splitlines()
    assert "disable --now quranbot@2.service quranbot@3.service" in made
    assert not any("quranbot@0" in call or "quranbot@1" in call for call in made if "disable" in call)
    calls.unlink()
    assert retire_shards(machine_units(Config(shard_count=4)), unit_dir) == []
    assert not any(call.startswith("disable") for call in calls.read_text().splitlines())
