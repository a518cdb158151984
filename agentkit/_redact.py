r"""Masks secrets (the API key, every header value sent) in text and in decoded JSON.

A secret is masked as a whole token only: a plain replace of a short key would mangle messages
(the key "k" turns "Unknown" into "Un***nown"). Servers echo what they rejected in JSON, where
``/`` may arrive as ``\/`` and any character as ``\uXXXX``: the escaped spellings are masked in
raw text, and decoded values are masked again after decoding.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["Secret", "Secrets", "redact", "redact_json"]

_KEY_CHARS = r"A-Za-z0-9_\-"
_MASK = "***"
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\(/)")


def _unescape(match: re.Match[str]) -> str:
    return chr(int(match[1], 16)) if match[1] else match[2]


class Secrets:
    """Values never to show, compiled once into one whole-token pattern."""

    __slots__ = ("_pattern", "values")

    def __init__(self, values: Iterable[str | None]) -> None:
        self.values = frozenset(v for v in values if v)
        """The secrets as sent."""
        spellings: set[str] = set()
        for value in self.values:
            escaped = json.dumps(value)[1:-1]  # how a JSON body spells it, \" and \\ escaped
            spellings.update((value, escaped, escaped.replace("/", "\\/")))
            spellings.add(json.dumps(value, ensure_ascii=False)[1:-1])
        alternatives = "|".join(re.escape(s) for s in sorted(spellings, key=len, reverse=True))
        self._pattern = (
            re.compile(rf"(?<![{_KEY_CHARS}])(?:{alternatives})(?![{_KEY_CHARS}])")
            if alternatives
            else None
        )

    def __repr__(self) -> str:
        return f"Secrets({len(self.values)} values)"  # never the values

    def with_values(self, values: Iterable[str | None]) -> Secrets:
        """These secrets and ``values``; ``self`` when nothing is new."""
        new = {v for v in values if v} - self.values
        return Secrets([*self.values, *new]) if new else self

    def redact(self, text: str) -> str:
        r"""``text`` with every secret masked as ``***``.

        A secret spelled with ``\uXXXX`` escapes is found in the unescaped text: the
        text is then returned unescaped, masked.
        """
        if self._pattern is None:
            return text
        text = self._pattern.sub(_MASK, text)
        if "\\" in text:
            unescaped = _ESCAPE.sub(_unescape, text)
            masked = self._pattern.sub(_MASK, unescaped)
            if masked != unescaped:
                return masked
        return text


Secret = str | Secrets | None
"""What the redaction helpers take: one key, a `Secrets`, or nothing to mask."""


def redact(text: str, secret: Secret) -> str:
    """``text`` with ``secret`` replaced by ``***`` wherever it is a whole token.

    Every error message built from what the server or httpx said goes through here: servers
    echo the key they rejected, and httpx quotes the headers it could not send.
    """
    if not secret:
        return text
    if isinstance(secret, str):
        secret = Secrets([secret])
    return secret.redact(text)


def redact_json(value: Any, secret: Secret) -> Any:
    """Decoded JSON with ``secret`` masked in every string (keys included).

    The caller bounds the depth (see `agentkit._http_errors.loads`): this recurses.
    """
    if not secret:
        return value
    if isinstance(value, str):
        return redact(value, secret)
    if isinstance(value, dict):
        return {redact(str(k), secret): redact_json(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_json(v, secret) for v in value]
    return value
