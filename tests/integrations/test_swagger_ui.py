"""Swagger UI's Authorize dialog shows M2MBearer's clientCredentials flow (a real browser)."""

# No "from __future__ import annotations": FastAPI reads the route annotations at runtime.
import shutil
import time
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from fastapi import Security

from m2m_guard import M2MClaims, Verifier
from m2m_guard._tools.server import ServerThread
from m2m_guard.fastapi import M2MBearer, install

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
TOKEN_URL = "https://auth.example.com/v1/public/project-test-1/oauth2/token"
#: Keep the browser on the loopback server (no update checks, no internet).
OPTIONS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)


@pytest.fixture
def docs_url(verifier: Verifier) -> Iterator[str]:
    from fastapi_offline import FastAPIOffline  # Swagger UI 5 assets from the package, no CDN

    guard = M2MBearer(verifier, token_url=TOKEN_URL, scopes={"read:orders": "Read orders"})
    app = install(FastAPIOffline())

    @app.get("/orders")
    async def read(claims: Annotated[M2MClaims, Security(guard, scopes=["read:orders"])]) -> Any:
        return {"client_id": claims.client_id}

    @app.post("/orders")
    async def write(claims: Annotated[M2MClaims, Security(guard, scopes=["write:orders"])]) -> Any:
        return {"client_id": claims.client_id}

    with ServerThread(app) as server:
        yield f"{server.base_url}/docs"


@pytest.mark.slow
def test_the_authorize_dialog_lists_the_flow_the_token_url_and_each_scope(docs_url: str) -> None:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no chromium/chromedriver installed (CI installs chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.wait import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for option in OPTIONS:
        options.add_argument(option)
    started = time.perf_counter()
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.get(docs_url)
        wait = WebDriverWait(driver, 20)
        wait.until(
            expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "button.authorize"))
        )
        driver.find_element(By.CSS_SELECTOR, "button.authorize").click()
        dialog = wait.until(
            expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, ".auth-container"))
        )
        text = dialog.text
    finally:
        driver.quit()
    print(f"swagger ui dialog in {time.perf_counter() - started:.2f}s")
    assert "clientCredentials" in text
    assert TOKEN_URL in text
    assert "read:orders" in text
    assert "Read orders" in text
    assert "write:orders" in text
