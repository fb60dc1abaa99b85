"""The DICOMweb client: ``dicomweb-client`` on a ``requests`` session, with typed errors.

:func:`connect` builds a :class:`PacsClient` from a :class:`~imaging_triage.pacs.config.PacsConfig`.
Every call goes through :func:`translate_errors`, so a caller sees only
:class:`~imaging_triage.errors.PacsError` subclasses: unreachable server
(:class:`~imaging_triage.errors.PacsConnectionError`), refused credentials
(:class:`~imaging_triage.errors.PacsAuthError`), missing study or series
(:class:`~imaging_triage.errors.PacsNotFoundError`), anything else
(:class:`~imaging_triage.errors.PacsResponseError`). Messages name the server, never the
credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from imaging_triage.errors import (
    PacsAuthError,
    PacsConnectionError,
    PacsError,
    PacsNotFoundError,
    PacsResponseError,
)
from imaging_triage.pacs.config import AuthKind, PacsConfig

logger = logging.getLogger(__name__)

#: ask for instances in the transfer syntax they are stored in (no transcoding)
AS_STORED = (("application/dicom", "*"),)
#: results asked per QIDO-RS page, and the most kept from one search
PAGE_SIZE = 200
MAX_RESULTS = 100_000
_UID_TAGS = {"studies": "0020000D", "series": "0020000E", "instances": "00080018"}


@contextmanager
def translate_errors(url: str, what: str) -> Iterator[None]:
    """Turn ``requests`` and decoding errors raised inside the block into typed errors.

    Parameters
    ----------
    url : str
        The server's base URL (named in messages).
    what : str
        What was being done, e.g. ``"searching studies"``.
    """
    import requests

    try:
        yield
    except PacsError:
        raise
    except requests.exceptions.SSLError as err:
        raise PacsConnectionError(
            f"TLS verification failed while {what} ({type(err).__name__}); give the server's CA "
            "bundle (ca_bundle), or verify_tls = false for a test server only",
            path=url,
        ) from err
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as err:
        raise PacsConnectionError(
            f"cannot reach the server while {what} ({type(err).__name__}); check the URL, "
            "the network and that the server runs",
            path=url,
        ) from err
    except requests.exceptions.HTTPError as err:
        status = err.response.status_code if err.response is not None else 0
        if status in (401, 403):
            raise PacsAuthError(
                f"the server refused the credentials (HTTP {status}) while {what}; check "
                "IMAGING_TRIAGE_PACS_USER/PASSWORD or TOKEN (or the config file)",
                path=url,
            ) from err
        if status == 404:
            raise PacsNotFoundError(
                f"not found on the server (HTTP 404) while {what}; list what exists with "
                "`imaging-triage pacs ls`",
                path=url,
            ) from err
        raise PacsResponseError(
            f"the server answered HTTP {status} while {what}; see its log", path=url
        ) from err
    except requests.exceptions.RequestException as err:
        raise PacsConnectionError(
            f"request failed while {what} ({type(err).__name__})", path=url
        ) from err
    except (ValueError, KeyError, TypeError) as err:
        # dicomweb-client raises these on content that is not valid DICOMweb
        raise PacsResponseError(
            f"the server's answer is not valid DICOMweb while {what} ({type(err).__name__}); "
            "check the URL points at the DICOMweb root (e.g. .../dicom-web)",
            path=url,
        ) from err


class PacsClient:
    """A DICOMweb service: QIDO-RS searches, WADO-RS retrieval, STOW-RS storage.

    Use :func:`connect` to build one. Every method raises only typed
    :class:`~imaging_triage.errors.PacsError` subclasses.
    """

    def __init__(self, config: PacsConfig, web: Any) -> None:
        self.config = config
        self._web = web

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.config.url

    def search(
        self, level: str, params: dict[str, Any], fields: tuple[str, ...] = (), **uids: str
    ) -> list[dict[str, Any]]:
        """A QIDO-RS search at ``level`` (``studies``, ``series``, ``instances``).

        ``params`` are matching keys (``{"ModalitiesInStudy": "CT"}``), ``fields`` extra
        attributes to return, ``uids`` the ``study_instance_uid``/``series_instance_uid``
        the search is scoped to. Returns the DICOM JSON objects answered, all pages.

        Pages of :data:`PAGE_SIZE` are asked with ``limit``/``offset``; paging stops at a
        short page, or at a page that brings nothing new (some servers ignore ``offset``
        with some filters, which would otherwise loop forever), or at :data:`MAX_RESULTS`.
        """
        method = {
            "studies": self._web.search_for_studies,
            "series": self._web.search_for_series,
            "instances": self._web.search_for_instances,
        }[level]
        key = _UID_TAGS[level]
        results: dict[str, dict[str, Any]] = {}
        offset = 0
        with translate_errors(self.url, f"searching {level}"):
            while len(results) < MAX_RESULTS:
                page = method(
                    search_filters=params,
                    fields=list(fields) or None,
                    limit=PAGE_SIZE,
                    offset=offset,
                    **uids,
                )
                before = len(results)
                for item in page:
                    uid = (item.get(key, {}).get("Value") or [""])[0]
                    results.setdefault(str(uid), item)
                if len(page) < PAGE_SIZE or len(results) == before:
                    break
                offset += len(page)
        if len(results) >= MAX_RESULTS:
            logger.warning(
                "search of %s stopped at %d results; narrow the query", level, MAX_RESULTS
            )
        return list(results.values())

    def iter_series(self, study_uid: str, series_uid: str) -> Iterator[Any]:
        """Stream the instances of a series, one pydicom dataset at a time."""
        with translate_errors(self.url, "retrieving a series"):
            yield from self._web.iter_series(study_uid, series_uid, media_types=AS_STORED)

    def retrieve_instance(self, study_uid: str, series_uid: str, sop_uid: str) -> Any:
        """Retrieve one instance as a pydicom dataset."""
        with translate_errors(self.url, "retrieving an instance"):
            return self._web.retrieve_instance(
                study_uid, series_uid, sop_uid, media_types=AS_STORED
            )

    def store(self, datasets: list[Any]) -> Any:
        """STOW-RS: store ``datasets``; return the server's response dataset."""
        with translate_errors(self.url, "storing instances"):
            return self._web.store_instances(datasets=datasets)


def _wildcard_session() -> Any:
    """A ``requests`` session that sends QIDO-RS wildcards (``*``) unencoded.

    ``dicomweb-client`` percent-encodes every query value, so ``StudyDescription=*HEAD*``
    goes out as ``%2AHEAD%2A``, which some servers (Orthanc 1.10) match literally. ``*`` is
    legal in a query string (RFC 3986 sub-delimiter), so it is restored before sending.
    """
    import requests

    class WildcardSession(requests.Session):
        def send(self, request: Any, **kwargs: Any) -> Any:
            if request.url and "?" in request.url:
                base, _, query = request.url.partition("?")
                request.url = base + "?" + query.replace("%2A", "*")
            return super().send(request, **kwargs)

    return WildcardSession()


def connect(config: PacsConfig) -> PacsClient:
    """Build a client for ``config`` (no request is sent yet).

    Examples
    --------
    >>> from imaging_triage.pacs.config import PacsConfig
    >>> connect(PacsConfig("http://127.0.0.1:8042/dicom-web")).url
    'http://127.0.0.1:8042/dicom-web'
    """
    from dicomweb_client.api import DICOMwebClient

    session = _wildcard_session()
    session.verify = config.verify
    session.trust_env = True  # proxies from the environment, as every HTTP tool
    headers: dict[str, str] = {}
    if config.auth is AuthKind.BASIC:
        session.auth = (config.user, config.password)
    elif config.auth is AuthKind.BEARER:
        headers["Authorization"] = f"Bearer {config.token}"
    web = DICOMwebClient(
        url=config.url,
        session=session,
        headers=headers or None,
        timeout=(min(config.timeout_s, 10.0), config.timeout_s),
    )
    # dicomweb-client retries some statuses with exponential waits; one try is enough for a
    # command line user, who sees the typed error and can rerun (a pull resumes)
    web.set_http_retry_params(retry=False)
    return PacsClient(config, web)
