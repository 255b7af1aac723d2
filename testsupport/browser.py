"""Headless Chromium (Debian's package) driven by Playwright, for the browser steps.

Playwright's own browser download cannot run here, and need not: it drives
the system Chromium, which scripts/prerequisites.sh installs (`just test` runs
it first). The flags keep Chromium from calling home (the machine has no
network beyond loopback and package registries).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

from playwright.sync_api import Browser, sync_playwright

CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise FileNotFoundError(
        "no Chromium on PATH: `apt-get install chromium` (`just test` runs "
        "scripts/prerequisites.sh, which does that as root)"
    )


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
