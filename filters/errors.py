"""Every exception heed raises, under one root.

    HeedError
    ├── SignalParseError (also ValueError)   a signal value is void by its own grammar
    ├── ConfigError (also ValueError)        an invalid run configuration
    ├── RegistryError                        the consent registry could not answer
    │   └── RegistryValidationError (also ValueError)   an entry or request is invalid
    │       └── RegistryConflictError                    an entry id is already taken
    └── (the crawler's: crawler/errors.py)

The crawler's own exceptions (output, the registry's CLI and service, the proof check, the
address guard) hang under the same root and are drawn in ``crawler/errors.py``; a test
(``tests/test_error_tree.py``) keeps every exception heed defines in one of these two modules.

Parsers never raise on hostile content: they skip what they cannot read and count it in the
policy's ``diagnostics``. ``SignalParseError`` exists for grammars that void a whole value on a
syntax error (RFC 9651 structured fields); ``evaluate`` maps it to "no statement".
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "HeedError",
    "RegistryConflictError",
    "RegistryError",
    "RegistryValidationError",
    "SignalParseError",
]


class HeedError(Exception):
    """Root of every heed exception."""


class SignalParseError(HeedError, ValueError):
    """A signal's value is void under its grammar; ``position`` is the offset of the fault."""

    def __init__(self, signal: str, position: int, message: str = "") -> None:
        self.signal = signal
        self.position = position
        super().__init__(
            f"{signal}: parse error at {position}" + (f": {message}" if message else "")
        )


class ConfigError(HeedError, ValueError):
    """The run configuration is invalid; the message names the key and what is wrong."""


class RegistryError(HeedError):
    """The consent registry could not answer (unreachable, erroring, or misconfigured)."""


class RegistryValidationError(RegistryError, ValueError):
    """A registry entry or request is invalid; nothing was written."""


class RegistryConflictError(RegistryValidationError):
    """Entry ids that are already taken (in the store, or earlier in the same batch);
    ``ids`` names them, sorted. Nothing was written."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = tuple(ids)
        shown = ", ".join(self.ids[:10]) + (", …" if len(self.ids) > 10 else "")
        super().__init__(f"duplicate entry id(s): {shown}")
