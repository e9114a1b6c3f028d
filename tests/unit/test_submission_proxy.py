"""SubmissionProxy: a hidden test may call only the functions the released notebook declares."""

from __future__ import annotations

from typing import Any, cast

import pytest

from autograder.errors import ConfigError, HiddenSuiteError
from autograder.session import NotebookSession, SubmissionProxy


class _Session:
    """Records calls; stands in for the worker session (the proxy's rule is checked before any call)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((name, args))
        return 42


def _proxy(declared: frozenset[str] | None) -> tuple[SubmissionProxy, _Session]:
    session = _Session()
    return SubmissionProxy(cast(NotebookSession, session), declared, "01_convolution"), session


def test_declared_functions_are_forwarded() -> None:
    proxy, session = _proxy(frozenset({"convolve2d", "relu"}))
    assert proxy.convolve2d(1, 2) == 42
    assert proxy.call("relu", 3) == 42
    assert session.calls == [("convolve2d", (1, 2)), ("relu", (3,))]


def test_an_undeclared_name_is_the_instructors_error() -> None:
    proxy, session = _proxy(frozenset({"convolve2d", "relu"}))
    with pytest.raises(HiddenSuiteError, match=r"`convolve_2d`.*01_convolution.*convolve2d, relu") as info:
        proxy.convolve_2d([[1]], [[1]])
    assert isinstance(info.value, ConfigError) and info.value.exit_code == 2
    with pytest.raises(HiddenSuiteError):
        proxy.call("build_model")
    assert session.calls == []  # nothing reached the student's process


def test_private_names_are_never_forwarded_and_none_allows_all() -> None:
    proxy, session = _proxy(None)
    with pytest.raises(AttributeError):
        proxy._session_secret  # noqa: B018
    assert proxy.anything() == 42 and session.calls == [("anything", ())]
