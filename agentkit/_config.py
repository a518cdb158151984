"""The client's settings: where they come from, and the checks that make them usable.

An argument wins over ``AGENTKIT_*``, which wins over ``OPENAI_*``; a key from the environment
goes only to a URL of its own family (see `endpoint`). A key is cleaned of the whitespace a
copy-paste leaves and refused (never quoted) if a header can't carry it; a base URL gets
``/v1`` unless its path already names the API root, and keeps its query.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import httpx

from agentkit.errors import InvalidRequestError

__all__ = [
    "DEFAULT_BASE_URL",
    "OPENAI_BASE_URL",
    "api_key",
    "base_url",
    "endpoint",
    "headers",
    "setting",
]

DEFAULT_BASE_URL = "https://api.getinfinityblue.com/v1"
OPENAI_BASE_URL = "https://api.openai.com/v1"
# Each environment key and the URLs it may go to: its family's variable, else its default.
_FAMILIES = {
    "AGENTKIT_API_KEY": ("AGENTKIT_BASE_URL", DEFAULT_BASE_URL),
    "OPENAI_API_KEY": ("OPENAI_BASE_URL", OPENAI_BASE_URL),
}

# What an Authorization header value may carry: visible ASCII. A pasted key often holds a
# zero-width space or a line break, which httpx would reject (quoting the key) at every send.
_NOT_IN_KEY = re.compile(r"[^\x21-\x7e]")
# A base URL path that already names the API root: it ends in a version ("/v1", "/api/v2beta"),
# in a version then "openai" (Gemini's "/v1beta/openai") or in an Azure OpenAI deployment.
# A header value: visible ASCII, spaces and tabs. CR/LF would end the header (h11 then quotes
# the value in its error), and non-ASCII has no agreed encoding.
_NOT_IN_VALUE = re.compile(r"[^\x20-\x7e\t]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_API_ROOT = re.compile(r"/v\d+\w*(?:/openai)?\Z|/openai/deployments/[^/]+\Z")


def setting(name: str, given: str | None, env: Mapping[str, str]) -> tuple[str, str | None]:
    """The first of ``given``, ``AGENTKIT_<NAME>`` and ``OPENAI_<NAME>`` set, and its source."""
    if given:
        return name, given
    for variable in (f"AGENTKIT_{name.upper()}", f"OPENAI_{name.upper()}"):
        if env.get(variable):
            return variable, env[variable]
    return name, None


def endpoint(
    base_url: str | None, api_key: str | None, env: Mapping[str, str], *, url_name: str = "base_url"
) -> tuple[str, str, str, str | None]:
    """Where requests go and with which key: ``(url_source, url, key_source, key)``.

    The key is ``api_key``, else ``AGENTKIT_API_KEY``, else ``OPENAI_API_KEY``. The URL is
    ``base_url`` if given. Otherwise a key from the environment goes only where its family
    points: ``AGENTKIT_API_KEY`` to ``AGENTKIT_BASE_URL`` or the gateway, ``OPENAI_API_KEY``
    to ``OPENAI_BASE_URL`` or OpenAI's API, so neither key reaches the other's host when both
    families are configured. A key given as an argument (or none) takes ``AGENTKIT_BASE_URL``,
    then ``OPENAI_BASE_URL``, then the gateway.

    Args:
        base_url: The URL given as an argument, if any.
        api_key: The key given as an argument, if any.
        env: The environment.
        url_name: How to name the argument as a source (``--base-url`` for the CLI).
    """
    key_source, key = setting("api_key", api_key, env)
    if base_url:
        return url_name, base_url, key_source, key
    family = _FAMILIES.get(key_source)
    if family is not None:
        variable, default = family
        if env.get(variable):
            return variable, env[variable], key_source, key
        return "the default", default, key_source, key
    url_source, url = setting("base_url", None, env)
    if url is None:
        return "the default", DEFAULT_BASE_URL, key_source, key
    return url_source, url, key_source, key


def api_key(source: str, key: str | None) -> str | None:
    """The key without surrounding whitespace.

    Raises:
        InvalidRequestError: The key holds a character an HTTP header cannot carry; the message
            names the character and where the key came from (``source``), never the key.
    """
    if key is None:
        return None
    key = key.strip()  # KEY=$(cat key.txt) and pasted keys often end in a newline or a space
    bad = _NOT_IN_KEY.search(key)
    if bad:
        raise InvalidRequestError(
            f"{source} contains U+{ord(bad.group()):04X} (character {bad.start() + 1}), which "
            "cannot be sent in an HTTP header: API keys are visible ASCII only; copy the key "
            "again without spaces, line breaks or invisible characters"
        )
    return key or None


def base_url(source: str, url: str) -> httpx.URL:
    """``url`` parsed, with ``/v1`` added to a path that does not name the API root.

    Only the path changes: a query (Azure's ``?api-version=``) is kept for every endpoint.

    Raises:
        InvalidRequestError: ``url`` (from ``source``) is not an http:// or https:// URL.
    """
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidRequestError(
            f"{source} must be an http:// or https:// URL, got {url!r}; add http:// or "
            "https://, e.g. http://localhost:8000/v1"
        )
    # "https://host" and "https://host/v1" mean the same server, and so does the endpoint's
    # own URL, pasted from a provider's docs.
    path = parsed.path.rstrip("/").removesuffix("/chat/completions")
    if not _API_ROOT.search(path):
        path += "/v1"
    return parsed.copy_with(path=path)


def headers(given: Mapping[str, str], where: str = "default_headers") -> dict[str, str]:
    """``given`` as a dict, checked now rather than at every send.

    Raises:
        InvalidRequestError: A name is not an HTTP token, or a value is not a string of
            visible ASCII, spaces and tabs, or starts or ends with whitespace. The message names
            the header and the character's position, never the value, which may be a secret.
    """
    for name, value in given.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise InvalidRequestError(
                f"{where} has a header name {name!r} that is not an HTTP token; use letters, "
                "digits and - only, e.g. 'X-Api-Key'"
            )
        if not isinstance(value, str):
            raise InvalidRequestError(
                f"{where}[{name!r}] must be a string, got {type(value).__name__}"
            )
        bad = _NOT_IN_VALUE.search(value)
        if bad:
            raise InvalidRequestError(
                f"{where}[{name!r}] contains U+{ord(bad.group()):04X} (character "
                f"{bad.start() + 1}), which an HTTP header cannot carry: header values are "
                "visible ASCII; remove line breaks and invisible characters, or encode the "
                "value (e.g. percent-encoding)"
            )
        if value != value.strip(" \t"):
            raise InvalidRequestError(
                f"{where}[{name!r}] starts or ends with whitespace, which HTTP drops or "
                "refuses; strip the value (a key read from a file often ends in a newline)"
            )
    return dict(given)
