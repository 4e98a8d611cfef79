"""Every `sanwang` command, found by walking the CLI's parser, against a stack that is not
running and with bad arguments: one line and a non-zero exit status, never a traceback.

The stack is stopped as after `sanwang up` then `down`: its secrets exist, nothing answers.
Long-running commands wait for the services; once they handle SIGTERM they must stop on it
within 10 s (143).
"""

from __future__ import annotations

import argparse
import itertools
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli.main import build_parser, leaf_parsers
from deploy import id_keys
from deploy.kafka_auth import ensure_passwords
from deploy.private_stack import private_settings, settings_env

STARTS_THE_STACK = {("up",), ("demo",)}  # against a stopped stack, they would start it
SUCCEED_WITH_NOTHING_RUNNING = {("down",), ("generate",), ("ids", "add-key")}
SETTLE_SECONDS = 20.0  # a command still running then waits for the services: stop it
HANDLER_SECONDS = 60.0  # ...once it handles SIGTERM: ~25 importing at once on 2 busy cores
FINISH_SECONDS = 120.0  # a command that needs no service finishes: ~25 start at once on 2 cores
STOP_SECONDS = 10.0


def _value(action: argparse.Action, folder: Path) -> str:
    """A plausible value: files and folders that exist, the first choice, a number."""
    if action.choices:
        return str(next(iter(action.choices)))
    if action.type is Path:
        return str(folder if (action.metavar == "DIR" or action.dest == "dir") else
                   folder / "input.csv")
    if action.type in (int, float):
        return "1"
    if action.dest == "resident_id":
        return "R0123456789abcde"
    return "police:1"


def command_lines(parser: argparse.ArgumentParser, folder: Path
                  ) -> list[tuple[tuple[str, ...], list[str]]]:
    """Each runnable command (its words) with its required arguments; one line per alternative
    of a required either-or group (`--file` or `--db`)."""
    lines = []
    for leaf in leaf_parsers(parser):
        words = leaf.prog.split()[1:]
        groups = [g for g in leaf._mutually_exclusive_groups if g.required]  # noqa: SLF001
        grouped = {a for g in groups for a in g._group_actions}  # noqa: SLF001
        base: list[str] = []
        for action in leaf._actions:  # noqa: SLF001
            if action in grouped or isinstance(action, argparse._HelpAction):  # noqa: SLF001
                continue
            if not action.option_strings:
                base.append(_value(action, folder))
            elif action.required:
                base += [action.option_strings[0], _value(action, folder)]
        for choice in itertools.product(*(g._group_actions for g in groups)):  # noqa: SLF001
            extra = []
            for action in choice:
                extra += [action.option_strings[0]]
                if action.nargs != "?":
                    extra.append(_value(action, folder))
            lines.append((tuple(words), [*words, *base, *extra]))
    return lines


def _start(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cli.main", *argv], env=env, cwd=cwd,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _until_it_handles_sigterm(proc: subprocess.Popen, seconds: float) -> None:
    """Wait until the process catches SIGTERM (its /proc status's SigCgt mask), ends, or
    `seconds` pass: a command still importing dies of the signal's default action, which says
    nothing of how it stops once running."""
    deadline = time.monotonic() + seconds
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            caught = next(int(line.split()[1], 16) for line in status.read_text().splitlines()
                          if line.startswith("SigCgt:"))
        except FileNotFoundError:  # ended meanwhile
            return
        if caught >> (signal.SIGTERM - 1) & 1:
            return
        time.sleep(0.1)


@pytest.fixture
def stopped_stack(tmp_path: Path) -> dict[str, str]:
    """The environment of a private stack whose secrets exist and whose services are down."""
    settings = private_settings(tmp_path / "home")
    ensure_passwords(settings)
    id_keys.ensure_keyring_file(settings)
    (tmp_path / "input.csv").write_text("not,what,any,command,expects\n1,2,3,4,5\n")
    return {**settings_env(settings), "PYTHONPATH": str(Path(__file__).parents[2])}


def test_every_command_against_a_stopped_stack_fails_in_one_line(
        stopped_stack: dict[str, str], tmp_path: Path) -> None:
    lines = [(words, argv) for words, argv in command_lines(build_parser(), tmp_path)
             if words not in STARTS_THE_STACK]
    assert len(lines) >= 20, lines
    started = time.monotonic()
    runs = [(words, argv, _start(argv, stopped_stack, tmp_path)) for words, argv in lines]
    problems, stopped = [], []
    for words, argv, proc in runs:
        name = " ".join(["sanwang", *argv])
        settle = FINISH_SECONDS if words in SUCCEED_WITH_NOTHING_RUNNING else SETTLE_SECONDS
        try:
            proc.wait(timeout=max(0.1, settle - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:  # waiting for the services, as it should: stop it
            _until_it_handles_sigterm(proc, HANDLER_SECONDS)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            try:
                proc.wait(timeout=STOP_SECONDS + 5)
            except subprocess.TimeoutExpired:
                proc.kill()
            took = time.monotonic() - signalled
            stopped.append(name)
            if proc.returncode != 128 + signal.SIGTERM or took > STOP_SECONDS:
                problems.append(f"{name}: SIGTERM gave {proc.returncode} after {took:.1f} s")
        out, err = proc.communicate()
        last = (err.strip().splitlines() or [""])[-1]
        if "Traceback" in err:
            problems.append(f"{name}: traceback\n{err[-1500:]}")
        elif words in SUCCEED_WITH_NOTHING_RUNNING:
            if proc.returncode != 0:
                problems.append(f"{name}: exit {proc.returncode}: {last}")
        elif proc.returncode == 0:
            problems.append(f"{name}: exit 0 with nothing running: {out.strip()[-300:]}")
        elif proc.returncode not in (1, 128 + signal.SIGTERM) and not last.startswith(
                f"sanwang {words[0]}"):
            problems.append(f"{name}: exit {proc.returncode}, last line {last!r}")
    assert problems == [], "\n".join(problems)
    assert stopped, "no command waited for the services"
    print(f"\n{len(lines)} command lines against a stopped stack; waiting for the services, "
          f"stopped by SIGTERM: {stopped}")


def test_every_command_refuses_bad_arguments_in_one_line(
        stopped_stack: dict[str, str], tmp_path: Path) -> None:
    """An unknown option (argparse's usage, exit 2), and files or folders that do not exist
    (one line, exit 2, before any service is asked)."""
    unknown = [(words, [*argv, "--no-such-option"])
               for words, argv in command_lines(build_parser(), tmp_path)]
    missing = tmp_path / "missing"
    absent = [(words, argv) for words, argv in command_lines(build_parser(), missing)
              if str(missing) in " ".join(argv) and words != ("generate",)]
    assert len(absent) >= 5, absent
    runs = [(argv, _start(argv, stopped_stack, tmp_path)) for _, argv in [*unknown, *absent]]
    problems = []
    for argv, proc in runs:
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        last = (err.strip().splitlines() or [""])[-1]
        if proc.returncode != 2 or "Traceback" in err or not last.startswith("sanwang"):
            problems.append(f"sanwang {' '.join(argv)}: exit {proc.returncode}: {err[-800:]}")
    assert problems == [], "\n".join(problems)
