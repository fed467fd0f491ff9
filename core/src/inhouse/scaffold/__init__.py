"""``inhouse plugin new KIND NAME``: a new plugin distribution that installs, passes the
conformance kit and is listed by ``inhouse plugins`` before its author changes a line.

The files come from ``templates/`` (package data): ``common/`` for every kind, ``KIND/`` for
the plugin module and its test. ``{{key}}`` placeholders are replaced by the values of
:class:`Names`. Guide: docs/plugins.md.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from importlib.resources import files
from pathlib import Path

from inhouse.errors import InhouseError
from inhouse.plugins import GROUPS

#: Kind (singular, as typed on the command line) -> the kit class its test subclasses.
KINDS = {
    "provider": "ProviderTests",
    "connector": "ConnectorTests",
    "embedder": "EmbedderTests",
    "store": "StoreTests",
    "parser": "ParserTests",
}
NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
MAX_NAME = 40
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class Names:
    """Every name a new plugin's files use, derived from its kind and NAME."""

    kind: str  # connector
    name: str  # demo
    dist: str  # inhouse-demo
    package: str  # inhouse_demo
    cls: str  # DemoConnector
    group: str  # inhouse.connectors
    entry: str  # demo (a parser's is its file suffix: .demo)
    kit: str  # ConnectorTests

    @classmethod
    def of(cls, kind: str, name: str) -> Names:
        """The names of plugin ``name`` of ``kind``; raises ``InhouseError`` for a bad kind or name."""
        if kind not in KINDS:
            raise InhouseError(f"unknown plugin kind {kind!r}: choose one of {', '.join(KINDS)}")
        if len(name) > MAX_NAME or not NAME.fullmatch(name):
            raise InhouseError(
                f"plugin name {name!r} is not valid: use lower-case letters and digits, words joined by single"
                f" hyphens, starting with a letter, at most {MAX_NAME} characters (e.g. 'acme-wiki')"
            )
        if name == "inhouse" or name.startswith("inhouse-"):
            raise InhouseError(f"plugin name {name!r}: leave out the 'inhouse-' prefix; the distribution is named inhouse-NAME")
        title = "".join(part.capitalize() for part in name.split("-"))
        return cls(
            kind=kind,
            name=name,
            dist=f"inhouse-{name}",
            package=f"inhouse_{name.replace('-', '_')}",
            cls=title + kind.capitalize(),
            group=GROUPS[kind + "s"],
            entry=f".{name}" if kind == "parser" else name,
            kit=KINDS[kind],
        )


def render(text: str, names: Names) -> str:
    """``text`` with every ``{{key}}`` replaced; an unknown key is a bug in the template."""
    values = asdict(names)
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def plan(names: Names) -> dict[str, str]:
    """The new distribution's files: relative path -> content."""
    templates = files("inhouse.scaffold") / "templates"
    common, own = templates / "common", templates / names.kind
    src = f"src/{names.package}"
    layout = {
        "pyproject.toml": common / "pyproject.toml.tmpl",
        "README.md": common / "README.md.tmpl",
        ".gitignore": common / "gitignore.tmpl",
        f"{src}/__init__.py": common / "package.py.tmpl",
        f"{src}/py.typed": None,
        f"{src}/{names.kind}.py": own / "plugin.py.tmpl",
        f"tests/test_{names.package[len('inhouse_') :]}.py": own / "test.py.tmpl",
    }
    return {path: render(t.read_text(encoding="utf-8"), names) if t is not None else "" for path, t in layout.items()}


def scaffold(kind: str, name: str, parent: Path) -> Path:
    """Write plugin ``name`` of ``kind`` into ``parent/name`` and return that folder. Raises
    ``InhouseError`` for a bad kind or name, or when the folder already exists."""
    names = Names.of(kind, name)
    target = parent / name
    if target.exists():
        raise InhouseError(f"{target} already exists: choose another NAME or --dir, or remove the folder")
    if parent.exists() and not parent.is_dir():
        raise InhouseError(f"--dir {parent} is not a folder")
    content = plan(names)
    for relative, text in content.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
