"""Standard output for the command line, when its reader may have gone (``heed … | head``).

A closed pipe is not an error of the command: ``print_out`` reports it by returning False and
points the stdout descriptor at ``/dev/null``, so neither a later print nor the interpreter's
flush at exit raises ``BrokenPipeError`` or prints "Exception ignored". The command then ends
with the exit code it would have had.
"""

from __future__ import annotations

import os
import sys

__all__ = ["print_out", "silence_stdout"]


def print_out(text: str) -> bool:
    """Write ``text`` and a newline to stdout and flush; False when the reader has gone."""
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        return False
    return True


def silence_stdout() -> None:
    """Send whatever stdout still holds, and anything written later, to ``/dev/null``."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no usable stdout at all
        pass
