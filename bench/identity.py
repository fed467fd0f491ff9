"""OpenID Connect sign-in: the page's round trip, and what validating a bearer token adds to an API request.

    python bench/identity.py [--rounds 20] [--tokens 5000]
    python bench/identity.py --smoke          # a few rounds (or INHOUSE_BENCH_SMOKE=1)

A real OpenID provider (``oidc-provider-mock``, as the tests use it: ui/tests/oidc_support.py)
and the app (``inhouse_ui.server.build_app`` on ./plugins.toml with ``[ui.oidc]`` naming the
provider) run on loopback in this process.

- Sign-in round trip, in headless Chromium (``/usr/bin/chromium``): a fresh browser opens the
  page, is sent to ``/login`` and on to the provider, signs in there (one click on its form),
  comes back through ``/oidc/callback`` and waits for the chat page's question box. And the same
  flow over HTTP only (httpx: ``/login``, the provider's consent, the callback, the page), which
  leaves out the browser's rendering of both pages.
- Token validation: ``Provider.verify`` + ``Provider.identity`` on a real ID token with the
  provider's keys cached, ``--tokens`` times (goal: p95 <= 1 ms). For reference, ``GET
  /v1/models`` over HTTP with that token and with an API key (the key check is a hash lookup).

Results go to bench/results/identity.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "ui" / "tests")]  # the tests' provider and server helpers

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchkit import machine, save, summary  # noqa: E402
from inhouse import Assistant  # noqa: E402
from inhouse.keys import KeyStore  # noqa: E402
from inhouse_ui.server import build_app  # noqa: E402
from oidc_support import identity_provider  # noqa: E402
from ui_support import CHROMIUM, serving  # noqa: E402

CONFIG = REPO / "plugins.toml"
OUT = REPO / "bench" / "results" / "identity.json"
SMOKE_ENV = "INHOUSE_BENCH_SMOKE"
GOAL_VALIDATION_P95_MS = 1.0
console = Console()


def browser_sign_ins(url: str, rounds: int) -> dict[str, float] | str:
    """Milliseconds from opening the page to the signed-in chat page, in a fresh Chromium context each round."""
    if not Path(CHROMIUM).exists():
        return f"skipped: no Chromium at {CHROMIUM}"
    from playwright.sync_api import sync_playwright

    times: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        for _ in range(rounds + 1):  # the first round warms the page's assets up and is not counted
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(60_000)
            began = time.perf_counter()
            page.goto(url)
            page.get_by_role("button", name="ana", exact=True).click()
            page.locator("#question textarea").wait_for()
            times.append((time.perf_counter() - began) * 1000)
            context.close()
        browser.close()
    return summary(times[1:])


def http_sign_ins(url: str, rounds: int) -> dict[str, float]:
    """Milliseconds for ``/login`` -> provider consent -> ``/oidc/callback`` -> the page, over HTTP."""
    times: list[float] = []
    for _ in range(rounds):
        with httpx.Client(base_url=url, timeout=30) as client:
            began = time.perf_counter()
            authorize = client.get("login").headers["location"]
            callback = httpx.post(authorize, data={"sub": "ana"}, timeout=30).headers["location"]
            assert client.get(callback).status_code == 303
            assert client.get("").status_code == 200
            times.append((time.perf_counter() - began) * 1000)
    return summary(times)


def validations(verifier: Any, token: str, audience: str, count: int) -> dict[str, float]:
    """Milliseconds per ``verify`` + ``identity`` of ``token`` with the keys cached."""
    verifier.identity(verifier.verify(token, audience))  # fetches discovery and the JWKS once
    times: list[float] = []
    for _ in range(count):
        began = time.perf_counter()
        verifier.identity(verifier.verify(token, audience))
        times.append((time.perf_counter() - began) * 1000)
    return summary(times)


def api_requests(base: str, credential: str, count: int) -> dict[str, float]:
    """Milliseconds per ``GET /v1/models`` with ``Authorization: Bearer credential``."""
    times: list[float] = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {credential}"}, timeout=30) as client:
        for _ in range(count + 5):
            began = time.perf_counter()
            assert client.get("/v1/models").status_code == 200
            times.append((time.perf_counter() - began) * 1000)
    return summary(times[5:])


def report(results: dict[str, Any]) -> None:
    """Print the tables."""
    table = Table(title="OpenID Connect sign-in (ms)")
    for column in ("measure", "n", "p50", "p95", "max"):
        table.add_column(column)
    for name, row in results["measures"].items():
        if isinstance(row, str):
            table.add_row(name, row, "", "", "")
        else:
            table.add_row(name, str(row["n"]), f"{row['p50']:.3f}", f"{row['p95']:.3f}", f"{row['max']:.3f}")
    console.print(table)
    p95 = results["measures"]["token validation, keys cached"]["p95"]
    verdict = "meets" if p95 <= GOAL_VALIDATION_P95_MS else "misses"
    console.print(f"token validation p95 {p95:.3f} ms: {verdict} the goal of <= {GOAL_VALIDATION_P95_MS} ms")


def main() -> None:
    """Start the provider and the app, measure, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=20, help="sign-ins measured (browser and HTTP each)")
    parser.add_argument("--tokens", type=int, default=5000, help="token validations measured")
    parser.add_argument("--smoke", action="store_true", help=f"a few rounds (also ${SMOKE_ENV}=1)")
    parser.add_argument("--out", type=Path, help=f"results file (default {OUT.relative_to(REPO)}; a smoke run saves none)")
    args = parser.parse_args()
    smoke = args.smoke or os.environ.get(SMOKE_ENV) == "1"
    if smoke:
        args.rounds, args.tokens = 2, 200
    out = args.out or (None if smoke else OUT)
    with (
        tempfile.TemporaryDirectory(prefix="inhouse-bench-identity-") as work,
        identity_provider() as provider,
        Assistant.from_config(CONFIG, Path(work) / "home") as assistant,
    ):
        app = build_app(assistant, provider.ui_settings())
        _, key = KeyStore(assistant.home).create("ana", "bench")
        token = provider.id_token("ana")
        verifier = app.state.auth.provider
        with serving(app) as url:
            measures = {
                "sign-in, Chromium (page load -> signed in)": browser_sign_ins(url, args.rounds),
                "sign-in, HTTP only": http_sign_ins(url, args.rounds),
                "token validation, keys cached": validations(verifier, token, verifier.settings.api_audience(), args.tokens),
                "GET /v1/models, bearer ID token": api_requests(url.rstrip("/"), token, args.rounds * 10),
                "GET /v1/models, API key": api_requests(url.rstrip("/"), key, args.rounds * 10),
            }
    results = {
        "machine": machine(),
        "provider": "oidc-provider-mock on loopback (RS256, 2048-bit key)",
        "smoke": smoke,
        "goal_validation_p95_ms": GOAL_VALIDATION_P95_MS,
        "measures": measures,
    }
    report(results)
    save(results, out, console)


if __name__ == "__main__":
    main()
