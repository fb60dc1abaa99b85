"""The viewer answers only requests addressed to this machine (DNS rebinding defence).

The viewer listens on 127.0.0.1, but a web page on a domain that an attacker re-points
to 127.0.0.1 ("DNS rebinding") can open the viewer's websocket from the reader's own
browser: the request then carries ``Host: evil.example:8501`` and a matching ``Origin``,
passes a same-origin check, and would get a full session (worklist, data folder, database
path). Two layers refuse it:

1. the Streamlit server refuses the websocket unless ``Host`` is in
   ``server.allowedHosts`` (``.streamlit/config.toml``: the loopback names);
2. the page itself calls :func:`host_refusal` first and renders nothing but the refusal
   when the session's ``Host`` or ``Origin`` names another host.

Allowed: ``127.0.0.1``, ``localhost``, ``::1``, the address the server was started on
(``server.address``, unless it is a wildcard), and any name listed in
``IMAGING_TRIAGE_ALLOWED_HOSTS`` (comma-separated, e.g. for a reverse proxy). Ports are
not compared (a proxy may change them).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

#: names that always reach this machine only
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: extra allowed host names, comma-separated
ENV_VAR = "IMAGING_TRIAGE_ALLOWED_HOSTS"
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def allowed_hosts(
    server_address: str | None = None, environ: Mapping[str, str] | None = None
) -> frozenset[str]:
    """The host names the viewer answers: loopback, the bound address, the extra list."""
    env = os.environ if environ is None else environ
    names = set(LOOPBACK_HOSTS)
    address = (server_address or "").strip().strip("[]").lower()
    if address not in _WILDCARDS:
        names.add(address)
    names.update(h.strip().lower() for h in env.get(ENV_VAR, "").split(",") if h.strip())
    return frozenset(names)


def hostname(value: str | None, *, url: bool = False) -> str | None:
    """The host name of a ``Host`` header (``name[:port]``) or an ``Origin`` URL,
    lower-case, without brackets or port; ``None`` when malformed.

    Examples
    --------
    >>> hostname("LOCALHOST:8501")
    'localhost'
    >>> hostname("[::1]:8501")
    '::1'
    >>> hostname("http://evil.example:8501", url=True)
    'evil.example'
    """
    if value is None:
        return None
    try:
        parts = urlsplit(value if url else f"//{value}")
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    if not url and (parts.path or parts.query or parts.fragment):
        return None
    name = parts.hostname
    return name.rstrip(".") if name else None


def host_refusal(
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None,
    server_address: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> str | None:
    """Why this session must be refused, or ``None`` when its Host and Origin are allowed.

    Parameters
    ----------
    headers : mapping
        The session's request headers (``st.context.headers``); names are matched
        case-insensitively.
    server_address : str, optional
        ``server.address`` the server was started with.

    Returns
    -------
    str or None
        A message for the page (it names no data), or ``None``. A session without any
        request header (Streamlit's AppTest) is not an HTTP request and passes; every
        browser request carries ``Host``.
    """
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    lowered = {str(k).lower(): str(v) for k, v in items}
    if not lowered:  # not served over HTTP (Streamlit's AppTest, bare mode): nothing to check
        return None
    allowed = allowed_hosts(server_address, environ)
    host = hostname(lowered.get("host"))
    if host is None or host not in allowed:
        return (
            "This viewer only answers requests addressed to this computer "
            f"({', '.join(sorted(allowed))}); the request named another host. Open the "
            "viewer at http://127.0.0.1:<port>/ (a page on another site may be trying to "
            "reach it)."
        )
    origin = lowered.get("origin")
    if origin is not None and origin != "null" and hostname(origin, url=True) not in allowed:
        return (
            "This viewer refuses connections started by pages of other sites; open it at "
            "http://127.0.0.1:<port>/ directly."
        )
    return None
