"""heed's decision engine: pure signal parsers and the engine that folds their verdicts.

Nothing in this package touches the network, the file system, Scrapy or an event loop: bytes,
headers and URLs go in, immutable policies and verdicts come out (SPEC.md §1-§5).
"""

from __future__ import annotations

from .errors import (
    ConfigError,
    HeedError,
    RegistryError,
    RegistryValidationError,
    SignalParseError,
)
from .headers import EMPTY_HEADERS, Headers
from .model import (
    Decision,
    DocState,
    DocumentInfo,
    FetchErrorKind,
    FetchOutcome,
    LicenseInfo,
    LicenseTag,
    Mode,
    Purpose,
    Signal,
    SignalResult,
    Stage,
    Verdict,
)
from .reasons import ReasonCode

__version__ = "0.1.0"

__all__ = [
    "EMPTY_HEADERS",
    "ConfigError",
    "Decision",
    "DocState",
    "DocumentInfo",
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
    "__version__",
]
