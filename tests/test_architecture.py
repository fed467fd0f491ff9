"""The dependency rules of docs/architecture.md, enforced.

- The core (``inhouse``) imports no plugin distribution, ever, and no heavy vendor library
  (boto3, botocore, gradio, llama_cpp, torch, sentence_transformers, transformers) when
  any of its modules is imported.
- A plugin distribution imports only the core's public API and its own shared kit
  (``inhouse_aws`` for the AWS-backed ones), never another plugin.
- Every built-in plugin and command comes from its own distribution, installed from its own
  folder and found through its entry point, like a third party's.
- Importing a distribution changes no process-wide setting (environment variables).
- No Python module in the repository is over 400 lines.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from importlib.metadata import distributions, entry_points
from pathlib import Path

import pytest

from support import REPO

HEAVY = (
    "boto3", "botocore", "gradio", "llama_cpp", "torch", "sentence_transformers", "transformers", "litellm", "ray", "psycopg",
)  # fmt: skip
#: The core's public API: what any other distribution may import from ``inhouse``.
PUBLIC = {
    "inhouse",
    "inhouse.access",
    "inhouse.cli",
    "inhouse.config",
    "inhouse.conversations",
    "inhouse.doctor",
    "inhouse.engines",
    "inhouse.errors",
    "inhouse.keys",
    "inhouse.plugins",
    "inhouse.policy",
    "inhouse.providerkit",
    "inhouse.provisioning",
    "inhouse.store_rules",
    "inhouse.testing",
    "inhouse.types",
}
#: Distribution folder -> its import package and the kits it may use besides the core.
DISTRIBUTIONS = {
    "connectors/filesystem": ("inhouse_filesystem", set()),
    "connectors/s3": ("inhouse_s3", {"inhouse_aws"}),
    "connectors/web": ("inhouse_web", set()),
    "connectors/confluence": ("inhouse_confluence", set()),
    "connectors/sharepoint": ("inhouse_sharepoint", set()),
    "providers/aws": ("inhouse_aws", set()),
    "providers/bedrock": ("inhouse_bedrock", {"inhouse_aws"}),
    "providers/gpu": ("inhouse_gpu", {"inhouse_aws"}),
    "providers/local": ("inhouse_local", set()),
    "providers/selfhosted": ("inhouse_selfhosted", {"inhouse_aws"}),
    "providers/litellm": ("inhouse_litellm", set()),
    "stores/pgvector": ("inhouse_pgvector", set()),
    "engines/ray": ("inhouse_ray", set()),
    "ui": ("inhouse_ui", set()),
    "tests/plugins/inhouse-quote": ("inhouse_quote", set()),
}
BUILTINS = {
    ("inhouse.connectors", "filesystem"): ("inhouse-filesystem", "connectors/filesystem"),
    ("inhouse.connectors", "s3"): ("inhouse-s3", "connectors/s3"),
    ("inhouse.connectors", "web"): ("inhouse-web", "connectors/web"),
    ("inhouse.connectors", "confluence"): ("inhouse-confluence", "connectors/confluence"),
    ("inhouse.connectors", "sharepoint"): ("inhouse-sharepoint", "connectors/sharepoint"),
    ("inhouse.embedders", "minilm"): ("inhouse-local", "providers/local"),
    ("inhouse.providers", "local"): ("inhouse-local", "providers/local"),
    ("inhouse.providers", "bedrock"): ("inhouse-bedrock", "providers/bedrock"),
    ("inhouse.providers", "bedrock-image"): ("inhouse-bedrock", "providers/bedrock"),
    ("inhouse.embedders", "bedrock-embed"): ("inhouse-bedrock", "providers/bedrock"),
    ("inhouse.providers", "tgi"): ("inhouse-selfhosted", "providers/selfhosted"),
    ("inhouse.providers", "openai-compatible"): ("inhouse-selfhosted", "providers/selfhosted"),
    ("inhouse.providers", "sagemaker"): ("inhouse-selfhosted", "providers/selfhosted"),
    ("inhouse.providers", "litellm"): ("inhouse-litellm", "providers/litellm"),
    ("inhouse.stores", "local"): ("inhouse", "core"),
    ("inhouse.parsers", ".md"): ("inhouse", "core"),
    ("inhouse.parsers", ".pdf"): ("inhouse", "core"),
    ("inhouse.commands", "serve"): ("inhouse-ui", "ui"),
    ("inhouse.commands", "gpu"): ("inhouse-gpu", "providers/gpu"),
    ("inhouse.settings", "ui"): ("inhouse-ui", "ui"),
    ("inhouse.settings", "api"): ("inhouse-ui", "ui"),
    ("inhouse.stores", "pgvector"): ("inhouse-pgvector", "stores/pgvector"),
    ("inhouse.engines", "ray"): ("inhouse-ray", "engines/ray"),
    ("inhouse.settings", "ray"): ("inhouse-ray", "engines/ray"),
}


def imports(folder: Path) -> list[tuple[Path, int, str]]:
    """Every module name imported anywhere under ``folder`` (function bodies included)."""
    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(path, node.lineno, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append((path, node.lineno, node.module))
    return found


def run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_core_never_imports_a_plugin_distribution() -> None:
    found = imports(REPO / "core" / "src")
    offending = [f"{p.relative_to(REPO)}:{n} imports {m}" for p, n, m in found if m.startswith("inhouse_")]
    assert not offending, offending


def test_importing_every_core_module_loads_no_plugin_and_no_heavy_library() -> None:
    code = (
        "import importlib, pkgutil, sys, inhouse\n"
        "for m in pkgutil.walk_packages(inhouse.__path__, 'inhouse.'):\n"
        "    if m.name != 'inhouse.__main__': importlib.import_module(m.name)\n"
        f"print(sorted({{n.split('.')[0] for n in sys.modules if n.startswith({HEAVY!r}) or n.startswith('inhouse_')}}))"
    )
    assert run(code) == "[]"


@pytest.mark.parametrize("folder", sorted(DISTRIBUTIONS))
def test_a_distribution_imports_only_the_public_core_api_and_its_kit(folder: str) -> None:
    own, kits = DISTRIBUTIONS[folder]
    bad = []
    for path, line, module in imports(REPO / folder / "src"):
        top = module.split(".")[0]
        if top == "inhouse" and not any(module == p or (p != "inhouse" and module.startswith(p + ".")) for p in PUBLIC):
            bad.append(f"{path.relative_to(REPO)}:{line} imports the core's internal {module}")
        elif top.startswith("inhouse_") and top != own and top not in kits:
            bad.append(f"{path.relative_to(REPO)}:{line} imports another distribution, {module}")
    assert not bad, bad


@pytest.mark.parametrize(("group", "name"), sorted(BUILTINS))
def test_each_builtin_comes_from_its_own_distribution_and_folder(group: str, name: str) -> None:
    dist_name, folder = BUILTINS[(group, name)]
    found = [ep for ep in entry_points(group=group, name=name)]
    assert [ep.dist.name for ep in found if ep.dist] == [dist_name]
    # An editable install also leaves setuptools' egg-info in the source folder: the installed
    # record is the one pip wrote, with the folder it was installed from.
    urls = [json.loads(d.read_text("direct_url.json") or "{}").get("url", "") for d in distributions(name=dist_name)]
    assert any(u.rstrip("/").endswith(f"/{folder}") for u in urls), f"{dist_name} is installed from {urls}, not from {folder}/"


def test_the_cli_offers_the_commands_of_the_ui_and_the_planner() -> None:
    result = subprocess.run([sys.executable, "-m", "inhouse", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout and "gpu" in result.stdout and "not installed" not in result.stdout
    command = [sys.executable, "-m", "inhouse", "gpu", "plan", "--model", "falcon-7b"]
    plan = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert plan.returncode == 0 and "weights" in plan.stdout, plan.stderr


def test_importing_the_distributions_changes_no_environment_variable() -> None:
    modules = [
        "inhouse_local.embedder", "inhouse_local.chat", "inhouse_local.quantize", "inhouse_bedrock.chat",
        "inhouse_selfhosted.tgi", "inhouse_selfhosted.sagemaker", "inhouse_aws", "inhouse_gpu.cli",
        "inhouse_filesystem.connector", "inhouse_ui.server", "inhouse_ui.page", "inhouse.cli", "inhouse_litellm.provider",
        "inhouse_pgvector.store", "inhouse_pgvector.testing", "inhouse_ray.settings",
    ]  # fmt: skip
    code = (
        "import importlib, os\n"
        "before = dict(os.environ)\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)))"
    )
    assert run(code) == "[]"


def test_no_module_is_over_400_lines() -> None:
    roots = ["core", "connectors", "providers", "stores", "engines", "ui", "tests", "bench", "examples"]
    long = [
        f"{path.relative_to(REPO)} ({n} lines)"
        for root in roots
        for path in sorted((REPO / root).rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    ]
    assert not long, long
