"""Fixtures for the website tests: the sample catalog, one built site per worker, a local
HTTP server for it and a headless Debian chromium driven by playwright."""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from matderiv.render.site import build_site

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "catalog-sample.json"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def sample_doc_session() -> dict:
    """The sample catalog, made through the document's constructor: a fixture that does
    not fit the schema fails here, before any renderer sees it."""
    from matderiv.publish.document import Document

    return Document(json.loads(FIXTURE.read_text(encoding="utf-8")))


@pytest.fixture
def sample_doc(sample_doc_session) -> dict:
    """A private copy, free to mutate."""
    return copy.deepcopy(sample_doc_session)


@pytest.fixture
def make_verification():
    """A verification record made the way the build makes it: a matderiv.check.verify.Verdict
    through matderiv.publish.export.verification_info, never a dictionary written by hand."""
    from matderiv.check.verify import Verdict
    from matderiv.publish.export import verification_info

    def make(doc: dict, identity_id: str, status: str = "verified", **verdict) -> dict:
        release = {"version": doc["version"], "date": doc["date"], "site_url": doc["site_url"]}
        return verification_info(Verdict(identity_id, status, **verdict), release)

    return make


@pytest.fixture(scope="session")
def built_site(tmp_path_factory, sample_doc_session) -> Path:
    """The fixture catalog built once per worker; the build time is recorded on it."""
    out = tmp_path_factory.mktemp("site") / "site"
    start = time.perf_counter()
    build_site(copy.deepcopy(sample_doc_session), out)
    (out.parent / "build-seconds.txt").write_text(f"{time.perf_counter() - start:.2f}")
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve(folder: Path):
    """A built site served by `python -m http.server` on a free local port: its URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
         "--directory", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    for _ in range(100):
        try:
            urllib.request.urlopen(url, timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def site_url(built_site) -> str:
    with serve(built_site) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium (never a downloaded one); skipped only when it is not installed.

    Playwright gives each launch a fresh temporary profile itself (it refuses
    --user-data-dir in `args`), which is what design.md's flag list asks for."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed (`make test` installs it with apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    """A fresh browser context (empty localStorage) per test."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context):
    return context.new_page()
