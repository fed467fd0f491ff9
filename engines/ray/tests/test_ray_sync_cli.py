"""``inhouse sync --ray`` without an address: the engine starts a local Ray of ``[ray] num_cpus``
for the run and ``close()`` stops it (no raylet of it left, the process no longer connected)
while the process lives on; ``--json`` stays JSON. The CLI runs in a child process, which
checks afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.model, pytest.mark.slow]

CHILD = """
import json, os, sys
from pathlib import Path
import ray
from inhouse.cli import main

def raylets():
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "raylet":
                found.add(int(entry.name))
        except OSError:
            continue
    return found

before = raylets()
sys.argv = ["inhouse", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
Path(os.environ["RAY_TEST_OUT"]).write_text(
    json.dumps({"code": code, "connected": ray.is_initialized(), "new_raylets": sorted(raylets() - before)})
)
"""


def test_sync_ray_starts_a_local_ray_for_the_run_and_stops_it(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "badges.md").write_text("# Badges\n\nA lost badge is reported to the front desk the same day.\n")
    config = tmp_path / "plugins.toml"
    config.write_text(
        f'[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n[connectors.docs]\nuse = "filesystem"\npath = "{docs}"\n'
        "[ray]\nnum_cpus = 2\n"
    )
    out = tmp_path / "child.json"
    args = ["--home", str(tmp_path / "home"), "--config", str(config), "sync", "--ray", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1", "RAY_TEST_OUT": str(out)},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (record,) = json.loads(done.stdout)
    assert record["state"] == "ok" and record["counts"]["added"] == 1 and record["counts"]["chunks"] == 1
    child = json.loads(out.read_text())
    assert child == {"code": 0, "connected": False, "new_raylets": []}  # the Ray it started stopped with the engine
