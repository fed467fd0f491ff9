"""The plugin contract documents itself: every public class of ``inhouse.plugins`` has a
docstring, the base classes a plugin extends document each public method, and every test of
the conformance kit (``inhouse.testing``) says what it checks and how to fix a failure
(a ``Fix:`` sentence): a plugin author reads them in pytest's failure report."""

from __future__ import annotations

import inspect

import pytest

import inhouse.testing
from inhouse import plugins
from inhouse.plugins import PluginConfig
from inhouse.registry import BASES

#: The classes a plugin author subclasses.
EXTENDED = [plugins.Plugin, plugins.PluginConfig, *BASES.values()]


def public_classes() -> list[type]:
    """The public classes defined in ``inhouse.plugins``."""
    return [
        obj
        for name, obj in vars(plugins).items()
        if inspect.isclass(obj) and obj.__module__ == plugins.__name__ and not name.startswith("_")
    ]


def undocumented_members(cls: type) -> list[str]:
    """Public methods and properties ``cls`` defines itself without a docstring."""
    missing = []
    for name, member in vars(cls).items():
        if name.startswith("_") or not (inspect.isfunction(member) or isinstance(member, property | classmethod | staticmethod)):
            continue
        target = member.__func__ if isinstance(member, classmethod | staticmethod) else member
        if not (inspect.getdoc(target) or "").strip():
            missing.append(f"{cls.__name__}.{name}")
    return missing


def kit_tests_without_a_fix(kit: type) -> list[str]:
    """Tests of a kit class (its own and inherited) whose docstring is missing or has no ``Fix:``."""
    problems = []
    for name in sorted(dir(kit)):
        if name.startswith("test_"):
            doc = inspect.getdoc(getattr(kit, name)) or ""
            if "Fix:" not in doc:
                problems.append(f"{kit.__name__}.{name}: " + ("no docstring" if not doc.strip() else "no 'Fix:' sentence"))
    return problems


@pytest.mark.parametrize("cls", public_classes(), ids=lambda c: c.__name__)
def test_every_public_class_of_the_contract_has_a_docstring(cls: type) -> None:
    assert (cls.__doc__ or "").strip(), f"inhouse.plugins.{cls.__name__} has no docstring"


@pytest.mark.parametrize("cls", EXTENDED, ids=lambda c: c.__name__)
def test_base_classes_document_every_public_method(cls: type) -> None:
    assert not undocumented_members(cls)


@pytest.mark.parametrize("kit", [getattr(inhouse.testing, n) for n in inhouse.testing.__all__], ids=str)
def test_every_kit_test_says_how_to_fix_a_failure(kit: type) -> None:
    assert [n for n in dir(kit) if n.startswith("test_")], f"{kit.__name__} has no tests"
    assert not kit_tests_without_a_fix(kit)


def test_the_checks_catch_what_they_are_for() -> None:
    """The meta-test itself fails on an undocumented method, a kit test without a docstring and
    one whose docstring gives no fix."""

    class Base(PluginConfig):
        def contract(self) -> None:
            pass

        @property
        def value(self) -> int:
            return 1

    class Kit(inhouse.testing.ConnectorTests):
        def test_silent(self) -> None:
            pass

        def test_vague(self) -> None:
            """Checks something."""

    assert undocumented_members(Base) == ["Base.contract", "Base.value"]
    assert kit_tests_without_a_fix(Kit) == ["Kit.test_silent: no docstring", "Kit.test_vague: no 'Fix:' sentence"]
