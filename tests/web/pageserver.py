"""The site-owner page served for the tests: the router in the registry service's app
(``create_app``), run by uvicorn on a free 127.0.0.1 port in a thread, and a headless
Chromium driven by selenium.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from crawler.registry._api import ServiceConfig
from crawler.registry.app import create_app
from crawler.registry.store import RegistryStore
from crawler.registry.web import PageOptions, page_router

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
#: Where the tests write their screenshots: tests/web/artifacts/ (git-ignored by
#: tests/web/.gitignore); each test prints the paths it wrote.
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_app(store: RegistryStore, config: ServiceConfig, options: PageOptions) -> FastAPI:
    """The registry service's app with the page's router, as ``heed registry serve`` builds
    it: ``create_app(store, config, routers=[page_router(store, config, options=...)])``."""
    return create_app(store, config, routers=[page_router(store, config, options=options)])


@contextmanager
def serve_page(
    store: RegistryStore,
    *,
    config: ServiceConfig | None = None,
    options: PageOptions | None = None,
) -> Iterator[str]:
    """Serve the page on 127.0.0.1; yields its base URL (no trailing slash)."""
    config = config or ServiceConfig(allow_private=True)
    app = build_app(store, config, options or PageOptions())
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the page's server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def need_browser() -> None:
    if CHROMIUM and CHROMEDRIVER:
        return
    missing = "chromium" if not CHROMIUM else "chromedriver"
    if os.environ.get("CI"):
        pytest.fail(f"{missing} is not installed; .ci/run installs chromium chromium-driver")
    pytest.skip(f"{missing} not installed (apt-get install chromium chromium-driver)")


@contextmanager
def chromium(
    profile: Path, *, javascript: bool = True, width: int = 1100, phone: bool = False
) -> Iterator[Any]:
    """A headless Chromium with a fresh profile in ``profile``; ``phone`` emulates a 390 px
    wide touch screen at 3x (the viewport meta tag then decides the layout width)."""
    need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless",
        "--no-sandbox",  # root in a container has no user namespace for the sandbox
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",  # a small /dev/shm crashes the renderer
        f"--user-data-dir={profile}",
        f"--window-size={width},1400",
    ):
        options.add_argument(arg)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    if phone:
        metrics = {"width": 390, "height": 844, "pixelRatio": 3.0, "touch": True}
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": metrics})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, name: str) -> Path:
    """Save a full-page screenshot under :data:`ARTIFACTS`; prints and returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, max(int(height) + 120, 600))
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path
