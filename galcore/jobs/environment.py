"""The environment a job's processes get: the server's, without its login secrets."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["clean_environment", "is_secret_variable"]

_SECRET_PREFIXES = ("PANEL_OAUTH_", "BOKEH_SECRET", "PANEL_COOKIE_SECRET")
_SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "CREDENTIAL", "PRIVATE_KEY")


def is_secret_variable(name: str) -> bool:
    """Return whether an environment variable holds a secret a training process must not get.

    Every ``PANEL_OAUTH_*`` variable (the login's key, secret, redirect and encryption key), the
    cookie secret, Bokeh's signing key and any name that says it holds a secret, password,
    token or credential.

    Examples
    --------
    >>> [is_secret_variable(name) for name in ("PANEL_OAUTH_KEY", "API_TOKEN", "PATH")]
    [True, True, False]
    """
    upper = name.upper()
    return upper.startswith(_SECRET_PREFIXES) or any(word in upper for word in _SECRET_WORDS)


def clean_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Return `environ` without its secret variables (`is_secret_variable`)."""
    return {name: value for name, value in environ.items() if not is_secret_variable(name)}
