"""A headless Chromium driven by Selenium, offline: Debian's chromium and chromedriver, nothing downloaded."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# no network here: nothing may phone home, update itself or sync
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def browser_missing() -> str | None:
    """Why a browser test cannot run here, or None when it can."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        return f"headless browser tests need {' and '.join(missing)} (Debian: apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "headless browser tests need selenium (pip install selenium)"
    return None


def set_viewport(driver, width: int, height: int) -> None:
    """Make the page's viewport ``width`` x ``height`` CSS pixels (it stays so across page loads)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


@contextmanager
def chromium_driver(width: int = 1100, height: int = 900):
    """A headless Chromium WebDriver whose viewport is ``width`` x ``height`` CSS pixels, with a fresh profile.

    The binary and the driver are given by path, so Selenium Manager never looks for (or downloads) either.
    The viewport is set through the DevTools protocol: ``--window-size`` sizes the window (not the page)
    and headless Chromium widens a window narrower than 500 pixels.
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={profile}")
    driver = None
    try:
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(30)
        set_viewport(driver, width, height)
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
