"""Every exception heed defines is a ``HeedError`` and lives in its package's errors module.

``filters/errors.py`` and ``crawler/errors.py`` each draw their tree in their docstring; a class
defined anywhere else, or outside ``HeedError``, fails here with its module named.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

import crawler
import filters
import filters.errors
from filters.errors import HeedError

ERROR_MODULES = ("filters.errors", "crawler.errors")

#: Exceptions that must be defined outside the errors modules, each with its reason. They must
#: still derive from ``HeedError``.
DEFINED_ELSEWHERE = {
    "crawler.middlewares.HeedDenied": (
        "Scrapy's IgnoreRequest, raised by the consent middleware: defining it in "
        "crawler/errors.py would make every importer of that module (the registry CLI, the "
        "output writer) import Scrapy and Twisted"
    ),
}


def exceptions_defined_in(package: ModuleType) -> dict[str, type[BaseException]]:
    """``module.Class`` -> class, for every exception class defined at module level in any
    module of ``package`` (imported on the way)."""
    found: dict[str, type[BaseException]] = {}
    modules = [package.__name__]
    modules += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
    for name in modules:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{value.__qualname__}"] = value
    return found


@pytest.fixture(scope="module")
def heed_exceptions() -> dict[str, type[BaseException]]:
    return exceptions_defined_in(filters) | exceptions_defined_in(crawler)


def test_every_exception_is_a_heed_error(heed_exceptions: dict[str, type[BaseException]]) -> None:
    outside = sorted(n for n, cls in heed_exceptions.items() if not issubclass(cls, HeedError))
    assert outside == [], "derive these from filters.errors.HeedError (or a subclass)"


def test_every_exception_lives_in_an_errors_module(
    heed_exceptions: dict[str, type[BaseException]],
) -> None:
    misplaced = sorted(
        name
        for name, cls in heed_exceptions.items()
        if cls.__module__ not in ERROR_MODULES and name not in DEFINED_ELSEWHERE
    )
    assert misplaced == [], "define these in filters/errors.py or crawler/errors.py"


def test_the_allow_list_names_real_classes(heed_exceptions: dict[str, type[BaseException]]) -> None:
    assert set(DEFINED_ELSEWHERE) <= set(heed_exceptions), "a stale DEFINED_ELSEWHERE entry"


@pytest.mark.parametrize("module_name", ERROR_MODULES)
def test_each_errors_module_draws_its_classes(module_name: str) -> None:
    module = importlib.import_module(module_name)
    classes = [
        name
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == module_name
    ]
    assert classes, module_name
    assert sorted(module.__all__) == sorted(classes)
    missing = [name for name in classes if name not in (module.__doc__ or "")]
    assert missing == [], f"{module_name}'s docstring tree lacks these"


def test_the_walk_finds_a_plain_exception_in_a_new_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above would catch ``class Foo(Exception)`` added in a crawler-like package."""
    package = tmp_path / "heed_probe"
    (package / "inner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "inner" / "__init__.py").write_text("")
    (package / "inner" / "thing.py").write_text(
        "from filters.errors import HeedError\n"
        "class Foo(Exception):\n    pass\n"
        "class Fine(HeedError):\n    pass\n"
        "Imported = HeedError\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        probe = importlib.import_module("heed_probe")
        found = exceptions_defined_in(probe)
    finally:
        for name in [n for n in sys.modules if n.startswith("heed_probe")]:
            del sys.modules[name]
    assert sorted(found) == ["heed_probe.inner.thing.Fine", "heed_probe.inner.thing.Foo"]
    assert not issubclass(found["heed_probe.inner.thing.Foo"], filters.errors.HeedError)
