"""CSRF tokens of the site-owner page: a signed double-submit token, standard library only.

Every form carries ``<issued>.<nonce>.<mac>`` where ``mac`` is HMAC-SHA256 over
``<issued>.<nonce>`` with the page's secret (random per process unless one is given), and the
browser holds the same ``nonce`` in a ``SameSite=Strict``, ``HttpOnly`` cookie. A POST is
accepted only when the MAC verifies (constant-time), the token is younger than
:data:`TOKEN_TTL` and its nonce equals the cookie's: a page on another origin can neither read
the cookie nor forge a MAC. Anything missing or malformed is a rejection (fail closed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

__all__ = ["COOKIE", "TOKEN_TTL", "CsrfSigner"]

#: The cookie holding the nonce of the browser's tokens.
COOKIE = "heed_csrf"
#: Seconds a form's token stays valid (a site owner may take a while to publish the file).
TOKEN_TTL = 2 * 3600
_MAX_TOKEN = 200


class CsrfSigner:
    """Issues and checks the page's form tokens."""

    def __init__(
        self, secret: bytes | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._secret = secret if secret else secrets.token_bytes(32)
        self._clock = clock

    def new_nonce(self) -> str:
        return secrets.token_urlsafe(18)

    def _mac(self, message: str) -> str:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def token(self, nonce: str) -> str:
        """A form token bound to the browser's cookie ``nonce``."""
        message = f"{int(self._clock())}.{nonce}"
        return f"{message}.{self._mac(message)}"

    def problem(self, token: str | None, cookie: str | None) -> str | None:
        """Why ``token`` (from the form) with ``cookie`` is refused; None when it is valid."""
        if not cookie:
            return "your browser sent no form cookie (are cookies blocked for this site?)"
        if not token or len(token) > _MAX_TOKEN or token.count(".") != 2:
            return "the form carried no valid security token"
        issued, nonce, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac(f"{issued}.{nonce}")):
            return "the form's security token is not one this page issued"
        if not hmac.compare_digest(nonce, cookie):
            return "the form's security token does not belong to this browser"
        try:
            age = self._clock() - int(issued)
        except ValueError:
            return "the form carried no valid security token"
        if not 0 <= age <= TOKEN_TTL:
            return "the form has expired; reload the page and send it again"
        return None
