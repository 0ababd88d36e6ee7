"""Shared helpers for the verifier-core tests: write identity files, run `matderiv verify`
in-process or as a subprocess, and read its JSON report."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MATDERIV = Path(sys.executable).parent / "matderiv"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (CI set, as .ci/run is run) a skipped test is a failure: `make test` installs
    every tool the tests need, so a skip there means an install step is missing."""
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may be missing: {report.longrepr}"


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("matderiv-cache")


@pytest.fixture(autouse=True)
def _private_cache(monkeypatch, cache_root):
    """Never read or write the user's verdict cache from a test."""
    monkeypatch.setenv("MATDERIV_CACHE", str(cache_root))


@pytest.fixture(scope="session")
def catalog_doc(cache_root):
    """The real catalog document, verified once per test session into the test cache."""
    from matderiv.pipeline.build import document, load_verified

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MATDERIV_CACHE", str(cache_root))
        verified = load_verified()
    assert verified is not None
    return document(*verified)


def identity(id: str, symbols: dict, of: str, wrt: str, derivative: dict | None = None,
             differential: str | None = None, title: str | None = None, **extra) -> dict:
    item = {"id": id, "title": title or id, "symbols": symbols, "of": of, "wrt": wrt}
    if derivative:
        item["derivative"] = derivative
    if differential is not None:
        item["differential"] = differential
    item.update(extra)
    return item


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data):  # the loader refuses anchors and aliases (E113)
        return True


def dump(*items: dict) -> str:
    return yaml.dump({"identities": list(items)}, Dumper=_NoAliases, sort_keys=False,
                     width=10**9, allow_unicode=True)


def write(folder: Path, content: str | dict, name: str = "ids.yaml") -> Path:
    """A YAML file in `folder`: text (dedented) or one identity mapping."""
    path = folder / name
    if isinstance(content, dict):
        content = dump(content)
    else:
        content = textwrap.dedent(content)
    path.write_text(content, encoding="utf-8")
    return path


def run_main(*args: str) -> tuple[int, str, str]:
    """`matderiv ...` in this process: (exit code, stdout, stderr)."""
    from matderiv.commands.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def verify_json(*paths, jobs: int = 1, cache: bool = False, extra=()) -> tuple[int, dict]:
    args = ["verify", *map(str, paths), "--json", "--jobs", str(jobs), *extra]
    if not cache:
        args.append("--no-cache")
    code, out, err = run_main(*args)
    assert out, f"no JSON on stdout (exit {code}): {err}"
    return code, json.loads(out)


def verify_one(folder: Path, item: dict | str) -> dict:
    """Verify one identity (a mapping or YAML text) and return its JSON row."""
    path = write(folder, item)
    code, report = verify_json(path)
    rows = report["identities"]
    assert len(rows) == 1, rows
    row = rows[0]
    assert code == (0 if row["status"] in ("verified", "refuted") else 1)
    return row


def codes(row: dict) -> list[str]:
    return [p["code"] for p in row["problems"]]


def run_cli(*args: str, env: dict | None = None, timeout: float = 120,
            cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The installed console script in a fresh process."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([str(MATDERIV), *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=cwd or ROOT)


def run_derive(argv, capsys) -> tuple[int, str, str]:
    """`matderiv derive ARGV` in-process, through the derive command's own parser."""
    import argparse

    from matderiv.commands.derive import add_parser

    parser = argparse.ArgumentParser(prog="matderiv")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    code = args.run(args)
    out = capsys.readouterr()
    return code, out.out, out.err
