"""What a consent registry said about one URL: an explicit answer type (SPEC.md §3.6).

Every lookup ends in exactly one of three values, never ``None``:

- :class:`Answer`: the registry answered, with its candidate entries for the URL (possibly
  none: then nothing is registered for it);
- :class:`Unavailable`: a configured registry could not answer (network, timeout, a bad
  reply); the engine turns it into ``registry.unavailable``, which excludes (fail closed);
- :data:`NOT_CONFIGURED`: the run has no registry at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ._model import Entry

__all__ = ["NOT_CONFIGURED", "Answer", "NotConfigured", "RegistryAnswer", "Unavailable"]


@dataclass(frozen=True, slots=True)
class Answer:
    """The registry answered: its candidate entries for the URL, in the order it gave them."""

    entries: tuple[Entry, ...] = ()


@dataclass(frozen=True, slots=True)
class Unavailable:
    """A configured registry could not answer for the URL; ``detail`` says why."""

    detail: str = "registry did not answer"


class NotConfigured:
    """The run has no consent registry (use the one instance, :data:`NOT_CONFIGURED`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_CONFIGURED"


#: Pass as the registry answer when the run has no registry.
NOT_CONFIGURED: Final = NotConfigured()

#: Everything a lookup can end in.
RegistryAnswer = Answer | Unavailable | NotConfigured

#: The answer with no entries (immutable: one object serves every URL).
EMPTY_ANSWER: Final = Answer()
