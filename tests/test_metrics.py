"""Prometheus metrics as an operator sees them: the real bot on the sandbox scraped over HTTP while
members act, a port already taken, and the address rules of config.toml, `--metrics` and doctor.

The exposition is checked with prometheus_client's own parser (`text_string_to_metric_families`) plus
the naming conventions below, not with `promtool check metrics`: promtool comes only in Debian's
`prometheus` package (the whole server, ~96 MB installed), too much for CI's developer install for one
check. What promtool's lint checks that matters here is asserted in `conventions()`: `_total` counters,
base units, HELP on every family, cumulative histogram buckets ending in +Inf equal to the count.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import socket
import urllib.request
from pathlib import Path

import pytest
from config_helpers import quranbot, token_for
from prometheus_client import Info
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import CollectorRegistry
from running_bot import RunningBot
from test_panel import until

from quranbot.cli.run import bot_settings
from quranbot.config.load import load_config
from quranbot.config.schema import Config, ConfigError
from quranbot.config.write import write_config
from quranbot.doctor import check_metrics
from quranbot.metrics import names
from quranbot.metrics.address import ListenAddress
from quranbot.metrics.collector import ProcessFigures
from quranbot.metrics.server import MetricsServer, exposure_warning
from quranbot.metrics.voice import RECOVERY_REASONS
from quranbot.paths import Paths
from quranbot.sandbox.server import Sandbox
from quranbot.secret import Secret

HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def scrape(port: int) -> str:
    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            assert answer.status == 200
            assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            return str(answer.read().decode())

    return await asyncio.to_thread(get)


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), math.nan)


def conventions(text: str, every_sample: bool = False) -> None:
    """What `promtool check metrics` would say about our families, and the issue's rules; with
    `every_sample`, each documented metric also has a sample (once members have acted)."""
    families = {family.name: family for family in text_string_to_metric_families(text)}
    ours = {name: family for name, family in families.items() if name.startswith("quranbot_")}
    for spec in names.ALL:
        family = families.get(spec.exposed if spec.kind == "info" else spec.name)  # info: a gauge in 0.0.4
        assert family is not None, f"{spec.exposed} is missing from the scrape"
        assert family.type == ("gauge" if spec.kind == "info" else spec.kind)
        assert family.documentation == spec.help
        exposed = {s.name for s in family.samples}
        assert not every_sample or spec.exposed in exposed or spec.exposed + "_count" in exposed, spec
    for name, family in ours.items():
        assert family.documentation, f"{name} has no HELP"
        assert not {"user", "member", "user_id", "member_id"} & {k for s in family.samples for k in s.labels}
        if family.type == "counter":
            assert all(s.name == name + "_total" or s.name == name + "_created" for s in family.samples)
        assert not name.endswith(("_ms", "_milliseconds", "_minutes", "_bytes_total_total"))
        if family.type == "histogram":
            by_series: dict[frozenset[tuple[str, str]], list[tuple[float, float]]] = {}
            counts = {}
            for s in family.samples:
                rest = frozenset((k, v) for k, v in s.labels.items() if k != "le")
                if s.name.endswith("_bucket"):
                    by_series.setdefault(rest, []).append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_count"):
                    counts[rest] = s.value
            for series, buckets in by_series.items():
                values = [v for _, v in sorted(buckets)]
                assert values == sorted(values), f"{name} buckets are not cumulative: {buckets}"
                assert sorted(buckets)[-1][0] == math.inf and values[-1] == counts[series]
    assert "process_cpu_seconds_total" in {s.name for f in families.values() for s in f.samples}
    assert "python_info" in families


async def test_a_scrape_follows_what_members_do(sandbox: Sandbox, home: Path) -> None:
    d = sandbox.default
    guild = str(d.guild.id)
    port = free_port()
    listener = sandbox.listener(d.voice)
    (member,) = await sandbox.add_members(1)
    settings = {"metrics_listen": ListenAddress("127.0.0.1", port), "quiz_deadline_seconds": 3}
    async with RunningBot(sandbox, home, voice_channels=(d.voice.id,), **settings):
        await listener.wait_for_packets(25, timeout=20)
        first = await scrape(port)
        conventions(first)
        before = samples(first)
        assert value(before, "quranbot_build_info", version="0.1.0", discordpy_version="2.7.1") == 1
        assert value(before, "quranbot_voice_connected", guild=guild) == 1
        assert value(before, "quranbot_guilds") == 1
        assert value(before, "quranbot_control_clients") == 0
        assert value(before, "quranbot_listeners", guild=guild) == 0
        for reason in RECOVERY_REASONS:
            assert value(before, "quranbot_voice_recoveries_total", guild=guild, reason=reason) == 0

        # reciting: frames sent grow as the channel hears them, and each has its lateness filed
        heard = listener.packets
        await listener.wait_for_packets(heard + 50, timeout=10)
        after = samples(await scrape(port))
        sent = value(after, "quranbot_voice_frames_sent_total", guild=guild)
        assert sent - value(before, "quranbot_voice_frames_sent_total", guild=guild) >= 45
        observed = value(after, "quranbot_voice_frame_lateness_seconds_count", guild=guild)
        assert sent - 1 <= observed <= sent  # every frame but the first of the stream
        assert (
            value(after, "quranbot_voice_frame_lateness_seconds_bucket", guild=guild, le="+Inf") == observed
        )

        # a member joins voice: a listener now, and their seconds counted
        await sandbox.join_voice(member, d.voice)
        await until_metric(port, "quranbot_listeners", 1, guild=guild)
        await asyncio.sleep(1.0)
        await sandbox.leave_voice(member, d.guild)
        await until_metric(port, "quranbot_listeners", 0, guild=guild)
        assert value(samples(await scrape(port)), "quranbot_listening_seconds_total", guild=guild) >= 0.8

        # slash commands by name and outcome, a refusal included (Manage Server is needed for /setup)
        await (await sandbox.run_command(d.admin, d.general, "ping")).wait()
        await (await sandbox.run_command(d.listener, d.general, "setup", voice_channel=d.lounge.id)).wait()
        await until_metric(port, "quranbot_commands_total", 1, source="discord", command="ping", result="ok")
        await until_metric(
            port, "quranbot_commands_total", 1, source="discord", command="setup", result="refused"
        )

        # a pause is not a late frame: the bucket of frames up to 1 s late still holds every frame
        await (await sandbox.run_command(d.admin, d.general, "pause")).wait()
        await asyncio.sleep(1.5)
        await (await sandbox.run_command(d.admin, d.general, "resume")).wait()
        await listener.wait_for_packets(listener.packets + 25, timeout=10)
        paused = samples(await scrape(port))
        count = value(paused, "quranbot_voice_frame_lateness_seconds_count", guild=guild)
        assert value(paused, "quranbot_voice_frame_lateness_seconds_bucket", guild=guild, le="1.0") == count

        # a kick: voice lost, rejoined by the watchdog, counted with its reason
        await sandbox.faults.kick_from_voice(d.guild)
        await sandbox.wait_for_voice(d.guild, d.bot.user.id, d.voice.id, timeout=10)
        recovered = await until_recovered(port, guild)
        assert recovered in ("disconnected", "dropped")
        assert value(samples(await scrape(port)), "quranbot_voice_connected", guild=guild) == 1

        # a quiz answer, counted with its result at the reveal
        asked = await sandbox.run_command(d.admin, d.general, "quiz", start={})
        await asked.wait_for_followups()
        question = next(m for m in sandbox.messages(d.general, include_ephemeral=False) if m.components)
        button = question.components[0]["components"][0]["custom_id"]
        await (await sandbox.press(member, question, button)).wait()
        await until(lambda: "Answer" in str(question.embeds[0].get("title", "")), 8, "the reveal")
        scored = await until_scored(port)
        assert scored == 1
        last = await scrape(port)
        conventions(last, every_sample=True)
        assert value(samples(last), "quranbot_store_flush_duration_seconds_count", kind="position") >= 1


async def until_metric(port: int, name: str, wanted: float, timeout: float = 10.0, **labels: str) -> None:
    async with asyncio.timeout(timeout):
        while value(samples(await scrape(port)), name, **labels) != wanted:
            await asyncio.sleep(0.1)


async def until_recovered(port: int, guild: str) -> str:
    """The reason of the one recovery counted (the watchdog counts it once it has rejoined)."""
    async with asyncio.timeout(10):
        while True:
            found = samples(await scrape(port))
            counted = {
                r: value(found, "quranbot_voice_recoveries_total", guild=guild, reason=r)
                for r in RECOVERY_REASONS
            }
            if sum(counted.values()):
                assert sum(counted.values()) == 1, counted
                return next(r for r, n in counted.items() if n)
            await asyncio.sleep(0.1)


async def until_scored(port: int) -> float:
    async with asyncio.timeout(5):
        while True:
            found = samples(await scrape(port))
            scored = sum(value(found, "quranbot_quiz_answers_total", result=r) for r in names.QUIZ_RESULTS)
            if scored:
                return scored
            await asyncio.sleep(0.1)


async def test_a_port_in_use_is_one_clear_error_and_the_bot_recites_on(
    sandbox: Sandbox, home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    d = sandbox.default
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        settings = {"metrics_listen": ListenAddress("127.0.0.1", port)}
        with caplog.at_level(logging.INFO):
            async with RunningBot(sandbox, home, voice_channels=(d.voice.id,), **settings):
                await sandbox.listener(d.voice).wait_for_packets(50, timeout=20)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        f"No metrics: cannot listen on 127.0.0.1:{port} (Address already in use); the bot recites on "
        "without /metrics. Free the port or choose another with metrics.listen (or --metrics)"
    ]


GOOD = {
    "127.0.0.1:9464": "127.0.0.1:9464",
    " 9464 ": "127.0.0.1:9464",
    "localhost:9100": "127.0.0.1:9100",
    "[::1]:9464": "[::1]:9464",
    "0.0.0.0:9464": "0.0.0.0:9464",
}
BAD = {
    ":9464": '":9464" gives no address: 127.0.0.1:9464 serves this machine only, 0.0.0.0:9464 every '
    "interface",
    "metrics.example.com:9464": '"metrics.example.com:9464" is not an IP address and port (such as '
    "127.0.0.1:9464; host names are not accepted",
    "::1:9464": '"::1:9464" needs brackets around its IPv6 address, such as [::1]:9464',
    "127.0.0.1:70000": '"127.0.0.1:70000" has no port from 1 to 65535',
    "127.0.0.1:": '"127.0.0.1:" has no port from 1 to 65535',
}


def test_metrics_listen_in_config_toml_is_checked_and_normalised(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    for given, kept in GOOD.items():
        path.write_text(f'[metrics]\nlisten = "{given}"\n')
        assert load_config(path).metrics_listen == kept
    path.write_text("[metrics]\nlisten = 9464\n")  # a bare port, as a TOML integer: loopback
    assert load_config(path).metrics_listen == "127.0.0.1:9464"
    write_config(path, Config(metrics_listen="[::1]:9464"))
    assert '[metrics]\nlisten = "[::1]:9464"' in path.read_text()
    assert load_config(path) == Config(metrics_listen="[::1]:9464")
    for given, reason in BAD.items():
        path.write_text(f'[metrics]\nlisten = "{given}"\n')
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert str(caught.value).startswith(f"{path}: metrics.listen: {reason}")


def test_the_run_flag_wins_over_the_file_and_is_checked_by_the_same_rule(tmp_path: Path) -> None:
    token = Secret("x")
    on = Config(metrics_listen="127.0.0.1:9464")
    assert bot_settings(Config(), token).metrics_listen is None  # off by default
    assert bot_settings(on, token).metrics_listen == ListenAddress("127.0.0.1", 9464)
    assert bot_settings(on, token, metrics="127.0.0.1:9100").metrics_listen == ListenAddress(
        "127.0.0.1", 9100
    )
    assert bot_settings(on, token, metrics="none").metrics_listen is None
    with pytest.raises(ConfigError) as caught:
        bot_settings(Config(), token, metrics="0.0.0.0")
    assert str(caught.value) == '--metrics: "0.0.0.0" has no port from 1 to 65535 (such as 127.0.0.1:9464)'


def test_config_set_and_the_cli_flag_refuse_a_bad_address_with_the_reason(home: Path) -> None:
    result = quranbot(home, "config", "set", "metrics.listen", "example.com:1")
    assert result.exit_code != 0 and "metrics.listen" in result.output
    assert "is not an IP address and port" in result.output
    assert quranbot(home, "config", "set", "metrics.listen", "9464").exit_code == 0
    assert load_config(Paths.under(home).config_file).metrics_listen == "127.0.0.1:9464"
    token = home / "token"
    token.write_text(token_for(1234567890123456789) + "\n")
    token.chmod(0o600)
    run = quranbot(home, "run", "--token-file", str(token), "--metrics", "nowhere:1")
    assert run.exit_code != 0 and "--metrics: " in run.output and "is not an IP address" in run.output


def test_doctor_says_when_metrics_are_off_local_or_exposed(home: Path) -> None:
    paths = Paths.under(home)
    assert check_metrics(paths).status == "ok" and "off" in check_metrics(paths).detail
    write_config(paths.config_file, Config(metrics_listen="127.0.0.1:9464"))
    local = check_metrics(paths)
    assert (local.status, local.detail) == ("ok", "http://127.0.0.1:9464/metrics, this machine only")
    write_config(paths.config_file, Config(metrics_listen="0.0.0.0:9464"))
    exposed = check_metrics(paths)
    assert exposed.status == "warn" and "other machines can reach" in exposed.detail
    assert exposed.fix == "firewall port 9464, or: quranbot config set metrics.listen 127.0.0.1:9464"


def test_process_figures_do_not_need_proc_stat(tmp_path: Path) -> None:
    """Under the unit's ProcSubset=pid, /proc/stat is hidden; prometheus_client's own collector then
    exports nothing. Here /proc is a folder with only this process in it, as the unit leaves it."""
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "self").symlink_to("/proc/self")
    registry = CollectorRegistry()
    ProcessFigures(proc=str(proc), registry=registry)
    start = registry.get_sample_value("process_start_time_seconds")
    assert start is not None and registry.get_sample_value("process_open_fds")
    assert not list(ProcessCollector(proc=str(proc), registry=None).collect())  # prometheus_client's own
    real = ProcessCollector(registry=None).collect()  # here /proc/stat is readable
    expected = next(s.value for f in real for s in f.samples if s.name == "process_start_time_seconds")
    assert start == pytest.approx(expected, abs=1.0)


def test_the_guide_and_the_dashboard_cover_every_metric_and_name_no_other() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs"
    guide = (docs / "OPERATIONS.md").read_text()
    series = {spec.exposed for spec in names.ALL} | {
        spec.exposed + suffix for spec in names.ALL if spec.kind == "histogram" for suffix in HISTOGRAM_SERIES
    }
    for spec in names.ALL:
        assert f"| `{spec.exposed}` | " in guide, f"{spec.exposed} is not in the table of docs/OPERATIONS.md"
    rules = guide.split("### Alert rules", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    assert set(re.findall(r"quranbot_\w+", rules)) <= series
    alerts = re.findall(r"- alert: (\w+)\n\s+expr: (.+)", rules)
    assert {"QuranBotDown", "QuranBotVoiceLost", "QuranBotBackupsStale"} <= {name for name, _ in alerts}
    assert "quranbot_voice_connected == 0" in dict(alerts)["QuranBotVoiceLost"]
    dashboard = json.loads((docs / "grafana-dashboard.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {name for query in queries for name in re.findall(r"quranbot_\w+", query)}
    assert used <= series, used - series
    assert {spec.exposed for spec in names.ALL} <= {re.sub(r"_(bucket|sum|count)$", "", n) for n in used}


async def test_an_address_other_machines_reach_is_served_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    Info("quranbot_build", "The QuranBot and discord.py versions (value 1).", registry=registry).info(
        {"v": "1"}
    )
    port = free_port()
    server = MetricsServer(registry, ListenAddress("0.0.0.0", port))
    with caplog.at_level(logging.INFO):
        assert await server.start()
        try:
            assert 'quranbot_build_info{v="1"} 1.0' in await scrape(port)
        finally:
            await server.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"/metrics is served on 0.0.0.0:{port}, which other machines can reach: anyone who can connect to "
        f"port {port} reads them (no member ids, but server ids and activity). Firewall it, or set "
        "metrics.listen = 127.0.0.1:9464 to keep it on this machine"
    ]
    assert exposure_warning(ListenAddress("127.0.0.1", port)) is None
    assert exposure_warning(ListenAddress("::1", port)) is None
