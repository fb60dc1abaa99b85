"""Where the PACS is and how to authenticate: :class:`PacsConfig`.

Credentials never come from the command line (it ends up in shell history and in the
process list). They come from the environment or a TOML config file:

=================================  ================================================
``IMAGING_TRIAGE_PACS_CONFIG``     path of a TOML file with a ``[pacs]`` table
``IMAGING_TRIAGE_PACS_AUTH``       ``none``, ``basic`` or ``bearer`` (default: inferred)
``IMAGING_TRIAGE_PACS_USER``       user name (HTTP basic)
``IMAGING_TRIAGE_PACS_PASSWORD``   password (HTTP basic)
``IMAGING_TRIAGE_PACS_TOKEN``      bearer token
``IMAGING_TRIAGE_PACS_CA_BUNDLE``  a CA bundle file to verify the server's certificate
=================================  ================================================

The file's keys have the same names in lower case without the prefix (``auth``, ``user``,
``password``, ``token``, ``ca_bundle``), plus ``verify_tls`` (default true),
``timeout_s`` and ``allow_http`` (send credentials over plain HTTP to a host other than
this machine: off by default). The environment wins over the file.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from imaging_triage.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

logger = logging.getLogger(__name__)

ENV_PREFIX = "IMAGING_TRIAGE_PACS_"
ENV_CONFIG = ENV_PREFIX + "CONFIG"
_KEYS = ("auth", "user", "password", "token", "ca_bundle", "verify_tls", "timeout_s", "allow_http")


class AuthKind(str, enum.Enum):
    """How requests authenticate to the server."""

    #: no credentials sent
    NONE = "none"
    #: HTTP basic: user name and password
    BASIC = "basic"
    #: ``Authorization: Bearer <token>`` (OAuth 2 access token or a server's API key)
    BEARER = "bearer"


@dataclass(frozen=True)
class PacsConfig:
    """A DICOMweb server and how to talk to it.

    Attributes
    ----------
    url : str
        Base URL of the DICOMweb service (e.g. ``https://pacs.example.org/dicom-web``),
        without credentials.
    auth : AuthKind
        Authentication scheme.
    user, password, token : str
        Credentials (never shown in ``repr``).
    verify_tls : bool
        Verify the server's certificate (on by default; turn off only for a test server).
    ca_bundle : str
        A CA bundle file to verify against instead of the system's.
    timeout_s : float
        Connect and read timeout of each request.
    """

    url: str
    auth: AuthKind = AuthKind.NONE
    user: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)
    verify_tls: bool = True
    ca_bundle: str = ""
    timeout_s: float = 30.0

    @property
    def verify(self) -> bool | str:
        """The ``verify`` argument of ``requests``: False, True or the CA bundle path."""
        if not self.verify_tls:
            return False
        return self.ca_bundle or True


def _is_local(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _truthy(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the ``[pacs]`` table of a TOML file.

    Raises
    ------
    ConfigError
        If the file cannot be read or parsed, or has unknown keys.
    """
    file = Path(path)
    try:
        doc = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(
            f"cannot read the PACS config file ({err}); fix it or unset {ENV_CONFIG}", path=file
        ) from err
    table = doc.get("pacs", {})
    if not isinstance(table, dict):
        raise ConfigError("[pacs] must be a table", path=file)
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key(s) in [pacs]: {', '.join(unknown)}; known: {', '.join(_KEYS)}",
            path=file,
        )
    secret = table.get("password") or table.get("token")
    if secret and os.name == "posix" and file.stat().st_mode & 0o077:
        logger.warning("%s holds credentials and is readable by others: chmod 600 it", file)
    return dict(table)


def load_config(
    url: str,
    *,
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> PacsConfig:
    """Build the configuration for ``url`` from a config file and the environment.

    Parameters
    ----------
    url : str
        Base URL of the DICOMweb service, as given on the command line.
    config_file : path, optional
        A TOML file with a ``[pacs]`` table; default: ``$IMAGING_TRIAGE_PACS_CONFIG``.
    environ : mapping, optional
        The environment (default ``os.environ``).

    Raises
    ------
    ConfigError
        If the URL is not http(s) or carries credentials, the settings contradict each
        other, or credentials would go over plain HTTP to another machine.

    Examples
    --------
    >>> cfg = load_config("http://127.0.0.1:8042/dicom-web",
    ...                   environ={"IMAGING_TRIAGE_PACS_TOKEN": "abc"})
    >>> cfg.auth
    <AuthKind.BEARER: 'bearer'>
    """
    env = os.environ if environ is None else environ
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{url!r} is not an http(s) URL; give the DICOMweb base URL")
    if parts.username or parts.password:
        raise ConfigError(
            "the URL carries credentials, which would end up in shell history; remove them "
            f"and set {ENV_PREFIX}USER/{ENV_PREFIX}PASSWORD or a config file instead"
        )
    settings: dict[str, Any] = {}
    file = config_file or env.get(ENV_CONFIG)
    if file:
        settings.update(read_config_file(file))
    for key in _KEYS:
        value = env.get(ENV_PREFIX + key.upper())
        if value:
            settings[key] = value
    token = str(settings.get("token", ""))
    user = str(settings.get("user", ""))
    password = str(settings.get("password", ""))
    default_auth = AuthKind.BEARER if token else AuthKind.BASIC if user else AuthKind.NONE
    try:
        auth = AuthKind(str(settings.get("auth", default_auth.value)).lower())
    except ValueError as err:
        raise ConfigError(f"auth must be none, basic or bearer, got {settings['auth']!r}") from err
    if auth is AuthKind.BASIC and not (user and password):
        raise ConfigError(
            f"basic authentication needs {ENV_PREFIX}USER and {ENV_PREFIX}PASSWORD (or user and "
            "password in the config file)"
        )
    if auth is AuthKind.BEARER and not token:
        raise ConfigError(f"bearer authentication needs {ENV_PREFIX}TOKEN (or token in the file)")
    cleartext = parts.scheme == "http" and not _is_local(parts.hostname)
    if (
        auth is not AuthKind.NONE
        and cleartext
        and not _truthy(settings.get("allow_http", False), "allow_http")
    ):
        raise ConfigError(
            f"credentials would travel unencrypted to {parts.hostname}; use https, or set "
            "allow_http = true in the config file if the network is trusted"
        )
    try:
        timeout = float(settings.get("timeout_s", 30.0))
    except ValueError as err:
        raise ConfigError(f"timeout_s must be a number, got {settings['timeout_s']!r}") from err
    ca_bundle = str(settings.get("ca_bundle", ""))
    if ca_bundle and not Path(ca_bundle).is_file():
        raise ConfigError("the CA bundle file does not exist", path=ca_bundle)
    return PacsConfig(
        url=url.rstrip("/"),
        auth=auth,
        user=user if auth is AuthKind.BASIC else "",
        password=password if auth is AuthKind.BASIC else "",
        token=token if auth is AuthKind.BEARER else "",
        verify_tls=_truthy(settings.get("verify_tls", True), "verify_tls"),
        ca_bundle=ca_bundle,
        timeout_s=timeout,
    )
