"""Transport errors become typed PACS errors naming the server, never the credentials."""

from __future__ import annotations

import pytest
import requests

from imaging_triage.errors import (
    PacsAuthError,
    PacsConnectionError,
    PacsNotFoundError,
    PacsResponseError,
)
from imaging_triage.pacs.client import translate_errors

URL = "https://pacs.example.org/dicom-web"


def _http_error(status: int) -> requests.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"{status}", response=response)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (_http_error(401), PacsAuthError),
        (_http_error(403), PacsAuthError),
        (_http_error(404), PacsNotFoundError),
        (_http_error(500), PacsResponseError),
        (requests.ConnectionError("refused"), PacsConnectionError),
        (requests.Timeout("slow"), PacsConnectionError),
        (requests.exceptions.SSLError("bad cert"), PacsConnectionError),
        (ValueError("Unexpected media type"), PacsResponseError),
    ],
)
def test_translation(raised: Exception, expected: type[Exception]) -> None:
    with pytest.raises(expected) as info, translate_errors(URL, "searching studies"):
        raise raised
    assert info.value.path == URL and "searching studies" in str(info.value)
    assert info.value.__cause__ is raised


def test_tls_failure_says_what_to_do() -> None:
    with pytest.raises(PacsConnectionError, match="ca_bundle"), translate_errors(URL, "x"):
        raise requests.exceptions.SSLError("certificate verify failed")
