"""PACS settings: credentials from the environment or a file, never the URL; TLS on."""

from __future__ import annotations

from pathlib import Path

import pytest

from imaging_triage.errors import ConfigError
from imaging_triage.pacs.client import connect
from imaging_triage.pacs.config import AuthKind, load_config

URL = "http://127.0.0.1:8042/dicom-web"


def test_no_credentials_means_no_auth_and_tls_verified() -> None:
    cfg = load_config("https://pacs.example.org/dicom-web/", environ={})
    assert cfg.auth is AuthKind.NONE and cfg.verify is True
    assert cfg.url == "https://pacs.example.org/dicom-web"


def test_basic_from_environment_and_secrets_not_in_repr() -> None:
    env = {"IMAGING_TRIAGE_PACS_USER": "u", "IMAGING_TRIAGE_PACS_PASSWORD": "s3cret"}
    cfg = load_config(URL, environ=env)
    assert (cfg.auth, cfg.user, cfg.password) == (AuthKind.BASIC, "u", "s3cret")
    assert "s3cret" not in repr(cfg)
    session = connect(cfg)._web._session
    assert session.auth == ("u", "s3cret") and session.verify is True


def test_bearer_token_goes_in_the_authorization_header() -> None:
    cfg = load_config(URL, environ={"IMAGING_TRIAGE_PACS_TOKEN": "tok"})
    assert cfg.auth is AuthKind.BEARER and "tok" not in repr(cfg)
    session = connect(cfg)._web._session
    assert session.headers["Authorization"] == "Bearer tok" and session.auth is None


def test_config_file_with_environment_overriding(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    file = tmp_path / "pacs.toml"
    file.write_text(
        f'[pacs]\nauth = "basic"\nuser = "file-user"\npassword = "p"\nca_bundle = "{ca}"\n'
    )
    file.chmod(0o600)
    env = {"IMAGING_TRIAGE_PACS_CONFIG": str(file), "IMAGING_TRIAGE_PACS_USER": "env-user"}
    cfg = load_config("https://pacs.example.org/dicom-web", environ=env)
    assert (cfg.user, cfg.password, cfg.verify) == ("env-user", "p", str(ca))


@pytest.mark.parametrize(
    ("url", "env", "message"),
    [
        ("https://u:p@pacs.example.org/dicom-web", {}, "shell history"),
        ("ftp://pacs.example.org/", {}, r"not an http\(s\) URL"),
        (URL, {"IMAGING_TRIAGE_PACS_AUTH": "basic"}, "needs IMAGING_TRIAGE_PACS_USER"),
        (URL, {"IMAGING_TRIAGE_PACS_AUTH": "kerberos"}, "none, basic or bearer"),
        (
            "http://pacs.example.org/dicom-web",
            {"IMAGING_TRIAGE_PACS_TOKEN": "t"},
            "unencrypted",
        ),
    ],
)
def test_unsafe_or_incomplete_settings_are_refused(
    url: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(url, environ=env)


def test_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    file = tmp_path / "pacs.toml"
    file.write_text('[pacs]\npasword = "typo"\n')
    with pytest.raises(ConfigError, match="pasword"):
        load_config(URL, config_file=file, environ={})


def test_verification_can_be_turned_off_only_explicitly(tmp_path: Path) -> None:
    file = tmp_path / "pacs.toml"
    file.write_text("[pacs]\nverify_tls = false\n")
    assert load_config(URL, config_file=file, environ={}).verify is False
