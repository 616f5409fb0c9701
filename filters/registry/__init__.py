"""The consent registry's data model, validation and matching (SPEC.md §3.6).

A registry entry says, for a *subject* (a ``domain`` with its subdomains, a URL ``prefix`` or
one exact ``url``), whether its owner opts out of or into some purposes, optionally under a
licence. This package is pure: it validates entries (``make_entry``), computes the keys a store
indexes them by (``lookup_keys``), picks the entry that decides a URL (``evaluate``) and names
what a lookup ended in (``Answer | Unavailable | NOT_CONFIGURED``). Storage, the HTTP service
and the clients live in ``crawler/registry/``.

Modules, each importing only those before it: ``_url`` (URL and host normalisation, index
keys), ``_model`` (``Entry`` and its validation), ``_match`` (``evaluate``), ``_json``
(dicts ↔ entries) and ``answer`` (the answer type). This module only re-exports.

Choices where SPEC.md §3.6 is silent (conservative, documented in docs/registry.md):

- Specificity: url > prefix > domain; among prefixes the longer wins; among domains the one
  with more labels wins (``a.example.com`` is more specific than ``example.com``). On equal
  specificity an opt-out wins.
- ``http`` and ``https`` are treated as the same site for ``prefix`` and ``url`` subjects (an
  owner registering ``https://example.com/blog/`` means the blog, whatever the scheme). A prefix
  is a plain prefix of the normalised URL string, as the word says.
- An entry with an expiry is expired from that instant on (``now >= expires_at``).
- Domain subjects must have at least two labels (``localhost`` and IP addresses excepted), so
  nobody can opt a whole top-level domain in or out.
- Licences must be a single SPDX id from the SPDX list (canonical case is restored) or a
  ``LicenseRef-…`` id; expressions (``MIT OR Apache-2.0``) are refused.
"""

from __future__ import annotations

from ._json import entry_from_dict, entry_to_dict
from ._match import evaluate, evaluate_parsed, unavailable
from ._model import (
    MAX_NOTE_LENGTH,
    MAX_SUBJECT_LENGTH,
    Choice,
    Entry,
    SubjectKind,
    make_entry,
    normalize_subject,
    parse_purposes,
)
from ._url import lookup_keys, normalize_host, normalize_url, parse_simple_for_match
from .answer import NOT_CONFIGURED, Answer, NotConfigured, RegistryAnswer, Unavailable

__all__ = [
    "MAX_NOTE_LENGTH",
    "MAX_SUBJECT_LENGTH",
    "NOT_CONFIGURED",
    "Answer",
    "Choice",
    "Entry",
    "NotConfigured",
    "RegistryAnswer",
    "SubjectKind",
    "Unavailable",
    "entry_from_dict",
    "entry_to_dict",
    "evaluate",
    "evaluate_parsed",
    "lookup_keys",
    "make_entry",
    "normalize_host",
    "normalize_subject",
    "normalize_url",
    "parse_purposes",
    "parse_simple_for_match",
    "unavailable",
]
