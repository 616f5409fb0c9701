"""The public names are pinned: ``__all__`` of ``filters``, ``filters.engine`` and
``filters.registry``, and the ``heed`` command line (its subcommands and their long options).

Adding or removing a public name is a decision: make it, then edit the one line here. The CLI
names must also be documented in README.md or docs/ (modelled on httpx's
``tests/test_exported_members.py``).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
from pathlib import Path

import pytest

from crawler.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent

EXPORTED = {
    "filters": {
        "__version__",
        "ConfigError",
        "Decision",
        "DocState",
        "DocumentInfo",
        "EMPTY_HEADERS",
        "FetchErrorKind",
        "FetchOutcome",
        "Headers",
        "HeedError",
        "LicenseInfo",
        "LicenseTag",
        "Mode",
        "Purpose",
        "ReasonCode",
        "RegistryError",
        "RegistryValidationError",
        "Signal",
        "SignalParseError",
        "SignalResult",
        "Stage",
        "Verdict",
    },
    "filters.engine": {
        "Answer",
        "CheckAddress",
        "decide_post_fetch",
        "decide_pre_fetch",
        "denied",
        "Done",
        "EngineConfig",
        "evaluate_headers",
        "Evaluator",
        "evidence_json",
        "Fetch",
        "Follow",
        "Gate",
        "inspect_response",
        "NeedRegistry",
        "NeedRsl",
        "NeedSite",
        "NOT_CONFIGURED",
        "NotConfigured",
        "PageSignals",
        "RegistryAnswer",
        "rsl_urls_needed",
        "SIGNAL_PURPOSES",
        "SiteSignals",
        "Step",
        "Unavailable",
    },
    "filters.registry": {
        "Answer",
        "Choice",
        "Entry",
        "entry_from_dict",
        "entry_to_dict",
        "evaluate",
        "evaluate_parsed",
        "lookup_keys",
        "make_entry",
        "MAX_NOTE_LENGTH",
        "MAX_SUBJECT_LENGTH",
        "normalize_host",
        "normalize_subject",
        "normalize_url",
        "NOT_CONFIGURED",
        "NotConfigured",
        "parse_purposes",
        "parse_simple_for_match",
        "RegistryAnswer",
        "SubjectKind",
        "Unavailable",
        "unavailable",
    },
}

#: Packages whose namespace holds no public name outside ``__all__`` (httpx's rule: what a
#: package imports for its users, it exports).
NOTHING_PUBLIC_UNEXPORTED = ("filters", "filters.registry")

#: Every command of ``heed`` (by its full path) and its long options; ``--help`` left out.
COMMANDS = {
    "heed": {"--verbose", "--version"},
    "heed crawl": {
        "--config",
        "--fresh",
        "--job",
        "--json",
        "--max-pages",
        "--no-progress",
        "--out",
        "--progress",
        "--redis",
        "--seeds",
        "--worker-id",
        "--workers",
    },
    "heed demo": {"--json", "--out", "--port", "--serve"},
    "heed card": {"--check", "--crawler-page", "--json", "--name", "--out"},
    "heed recheck": {
        "--batch-rows",
        "--cache",
        "--config",
        "--json",
        "--no-cache",
        "--no-progress",
        "--out",
        "--progress",
        "--refetch",
        "--url-column",
        "--workers",
    },
    "heed check": {
        "--ai-txt",
        "--allow-private-networks",
        "--config",
        "--explain",
        "--headers",
        "--html",
        "--json",
        "--mode",
        "--offline",
        "--purpose",
        "--robots",
        "--tdmrep",
        "--urls-file",
    },
    "heed registry": set(),
    "heed registry init": {"--db"},
    "heed registry add": {
        "--by",
        "--choice",
        "--db",
        "--expires",
        "--id",
        "--kind",
        "--license",
        "--note",
        "--purpose",
        "--verified",
    },
    "heed registry remove": {"--db"},
    "heed registry show": {"--db"},
    "heed registry list": {"--after", "--db", "--host", "--limit"},
    "heed registry import": {"--by", "--db", "--format", "--on-conflict"},
    "heed registry export": {"--db", "--format"},
    "heed registry serve": {
        "--allow-http-proof",
        "--allow-private",
        "--check-config",
        "--db",
        "--host",
        "--max-batch",
        "--max-body",
        "--max-verifications",
        "--port",
    },
    "heed registry token": {"--db"},
}

#: Options the command line has but README.md and docs/ do not mention yet: document one, then
#: delete it here (the test below fails while a listed name is in fact documented).
UNDOCUMENTED_OPTIONS = {
    ("heed", "--verbose"),
    ("heed", "--version"),
    ("heed registry add", "--id"),
    ("heed registry serve", "--allow-private"),
}


@pytest.mark.parametrize("module_name", sorted(EXPORTED))
def test_all_names_exist(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
    assert len(module.__all__) == len(set(module.__all__)), "a name listed twice"


@pytest.mark.parametrize("module_name", sorted(EXPORTED))
def test_all_is_the_pinned_list(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module.__all__) == EXPORTED[module_name]


@pytest.mark.parametrize("module_name", NOTHING_PUBLIC_UNEXPORTED)
def test_all_imports_are_exported(module_name: str) -> None:
    module = importlib.import_module(module_name)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)  # submodules are attributes once imported
        and name != "annotations"  # from __future__ import annotations
    }
    assert public - set(module.__all__) == set()


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _commands(parser: argparse.ArgumentParser, path: str = "heed") -> dict[str, set[str]]:
    options = {
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    found = {path: options}
    for name, subparser in _subcommands(parser).items():
        found |= _commands(subparser, f"{path} {name}")
    return found


@pytest.fixture(scope="module")
def cli_commands() -> dict[str, set[str]]:
    return _commands(build_parser())


@pytest.fixture(scope="module")
def documentation() -> str:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return "\n".join(page.read_text(encoding="utf-8") for page in pages)


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text) is not None


def test_cli_commands_are_the_pinned_list(cli_commands: dict[str, set[str]]) -> None:
    assert set(cli_commands) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_options_are_the_pinned_list(command: str, cli_commands: dict[str, set[str]]) -> None:
    assert cli_commands.get(command) == COMMANDS[command]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_names_are_documented(
    command: str, cli_commands: dict[str, set[str]], documentation: str
) -> None:
    if command != "heed":
        assert _mentions(documentation, command), "README.md and docs/ never show this command"
    undocumented = sorted(
        option
        for option in cli_commands.get(command, set())
        if (command, option) not in UNDOCUMENTED_OPTIONS and not _mentions(documentation, option)
    )
    assert undocumented == [], f"{command}: options README.md and docs/ never mention"


def test_the_undocumented_list_is_current(documentation: str) -> None:
    assert {entry for entry in UNDOCUMENTED_OPTIONS if entry[1] in COMMANDS[entry[0]]} == (
        UNDOCUMENTED_OPTIONS
    ), "an UNDOCUMENTED_OPTIONS entry the command line no longer has"
    documented = sorted(e for e in UNDOCUMENTED_OPTIONS if _mentions(documentation, e[1]))
    assert documented == [], "documented now: delete these from UNDOCUMENTED_OPTIONS"
