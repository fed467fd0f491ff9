"""Deprovisioning: the time from the SCIM call that deprovisions a user to the first request of
theirs that is refused (goal: their very next request).

    python bench/deprovision.py [--rounds 200]
    python bench/deprovision.py --smoke          # a few rounds (or INHOUSE_BENCH_SMOKE=1)

The app (``inhouse_ui.server.build_app`` on ./plugins.toml, password sign-in, ``[ui.scim]`` on)
runs on loopback in this process. Each round provisions ana again (SCIM ``PATCH active true``),
checks that her API key and her signed-in page session are served, then deprovisions her with
the PATCH Okta sends (``replace active false``) and, as soon as it answers, sends the next request
with her key and the next with her session cookie. Every few rounds the deprovisioning is a
``DELETE`` instead (a new user and key each time). Measured: the SCIM call itself, the time from
the call's start to the first refused request, and how many first requests after it were refused
(all of them, or the goal is missed). For reference, what the check adds to every request:
``Provisioning.refused`` on a directory of 1,000 users.

Results go to bench/results/deprovision.json.
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
sys.path[:0] = [str(REPO / "tests"), str(REPO / "ui" / "tests")]  # the tests' server helpers

import httpx  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from benchkit import machine, save, summary  # noqa: E402
from inhouse import Assistant  # noqa: E402
from inhouse.keys import KeyStore  # noqa: E402
from inhouse.provisioning import Provisioning  # noqa: E402
from inhouse_ui.server import build_app  # noqa: E402
from ui_support import serving  # noqa: E402

CONFIG = REPO / "plugins.toml"
OUT = REPO / "bench" / "results" / "deprovision.json"
SMOKE_ENV = "INHOUSE_BENCH_SMOKE"
TOKEN = "bench-scim-token-" + "0" * 32
PASSWORD = "ana-bench-password"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
DELETE_EVERY = 5  # every fifth round deletes a user instead of deactivating ana
console = Console()


def active(value: bool) -> dict[str, Any]:
    """The PATCH body Okta sends to (de)activate a user."""
    return {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": value}}]}


def rounds(url: str, keys: KeyStore, count: int) -> dict[str, Any]:
    """Run ``count`` deprovisioning rounds; the timings and how many next requests were refused."""
    scim = httpx.Client(base_url=url + "scim/v2", headers={"Authorization": f"Bearer {TOKEN}"})
    page = httpx.Client(base_url=url)
    api = httpx.Client(base_url=url + "v1")
    ana = scim.post("/Users", json={"schemas": [USER], "userName": "ana"}).json()["id"]
    key = keys.create("ana", "bench")[1]
    keys.create("keeper", "keeps keys in force")  # with no key in force, loopback clients need none
    assert page.post("/login", data={"name": "ana", "password": PASSWORD}).status_code == 303
    call_ms: list[float] = []
    to_refusal_ms: list[float] = []
    next_refused = {"api key": 0, "page session": 0}
    deletes = 0
    for i in range(count):
        deleting = i % DELETE_EVERY == DELETE_EVERY - 1
        if deleting:
            name = f"temp-{i}"
            target = scim.post("/Users", json={"schemas": [USER], "userName": name}).json()["id"]
            target_key = keys.create(name, "bench")[1]
        else:
            assert scim.patch(f"/Users/{ana}", json=active(True)).status_code == 200
            target, target_key = ana, key
        bearer = {"Authorization": f"Bearer {target_key}"}
        assert api.get("/models", headers=bearer).status_code == 200
        assert deleting or page.get("/", follow_redirects=False).status_code == 200
        started = time.perf_counter()
        response = scim.delete(f"/Users/{target}") if deleting else scim.patch(f"/Users/{target}", json=active(False))
        answered = time.perf_counter()
        assert response.status_code in (200, 204), response.text
        first = api.get("/models", headers=bearer).status_code == 401
        refused_at = time.perf_counter()
        next_refused["api key"] += first
        if not deleting:
            next_refused["page session"] += page.get("/", follow_redirects=False).status_code == 303
        deletes += deleting
        call_ms.append((answered - started) * 1000)
        to_refusal_ms.append((refused_at - started) * 1000)
    for client in (scim, page, api):
        client.close()
    return {
        "rounds": count,
        "deletes": deletes,
        "scim call": summary(call_ms),
        "scim call -> first refused request": summary(to_refusal_ms),
        "next request refused": {
            "api key": f"{next_refused['api key']}/{count}",
            "page session": f"{next_refused['page session']}/{count - deletes}",
        },
        "all refused on the next request": next_refused["api key"] == count and next_refused["page session"] == count - deletes,
    }


def check_cost(home: Path, count: int) -> dict[str, float]:
    """Milliseconds one ``Provisioning.refused`` takes on a directory of 1,000 users (a separate folder)."""
    store = Provisioning(home)
    for i in range(1000):
        store.create_user(f"user-{i}@example.com")
    times = []
    for i in range(count):
        started = time.perf_counter()
        store.refused(f"user-{i % 1000}@example.com")
        times.append((time.perf_counter() - started) * 1000)
    return summary(times)


def report(results: dict[str, Any]) -> None:
    """Print the table and the verdict."""
    table = Table(title="Deprovisioning by SCIM (ms)")
    for column in ("measure", "n", "p50", "p95", "max"):
        table.add_column(column)
    for name in ("scim call", "scim call -> first refused request"):
        row = results["measures"][name]
        table.add_row(name, str(row["n"]), f"{row['p50']:.3f}", f"{row['p95']:.3f}", f"{row['max']:.3f}")
    row = results["refused check per request"]
    table.add_row("refused check per request", str(row["n"]), f"{row['p50']:.3f}", f"{row['p95']:.3f}", f"{row['max']:.3f}")
    console.print(table)
    verdict = "meets" if results["measures"]["all refused on the next request"] else "misses"
    console.print(f"next request refused: {results['measures']['next request refused']}: {verdict} the goal")


def main() -> None:
    """Serve the app, measure, print and save the results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=200, help="deprovisioning rounds")
    parser.add_argument("--smoke", action="store_true", help=f"a few rounds (also ${SMOKE_ENV}=1)")
    parser.add_argument("--out", type=Path, help=f"results file (default {OUT.relative_to(REPO)}; a smoke run saves none)")
    args = parser.parse_args()
    smoke = args.smoke or os.environ.get(SMOKE_ENV) == "1"
    if smoke:
        args.rounds = 10
    out = args.out or (None if smoke else OUT)
    with (
        tempfile.TemporaryDirectory(prefix="inhouse-bench-deprovision-") as work,
        Assistant.from_config(CONFIG, Path(work) / "home") as assistant,
    ):
        ui = {"users": [{"name": "ana", "password": PASSWORD}], "scim": {"token": TOKEN}}
        app = build_app(assistant, ui)
        with serving(app) as url:
            measures = rounds(url, KeyStore(assistant.home), args.rounds)
        cost = check_cost(Path(work) / "directory", 2000 if not smoke else 200)
    results = {
        "machine": machine(),
        "smoke": smoke,
        "goal": "the first request after the SCIM call is refused",
        "measures": measures,
        "refused check per request": cost,
    }
    report(results)
    save(results, out, console)


if __name__ == "__main__":
    main()
