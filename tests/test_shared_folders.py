"""Shared folders are hostile: every write is a unique temporary file, then os.replace (issue 21).

A class shares cache and data folders on one machine: another user may plant a symlink under
any name the course would write, and two kernels may save the same run at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

import course_utils as cu
from course_utils import data, env, weights


@pytest.fixture
def victim(tmp_path):
    """Another user's file, which a planted symlink points at."""
    path = tmp_path / "someone-elses-file"
    path.write_text("precious", encoding="utf-8")
    return path


def test_the_write_probe_never_follows_a_planted_symlink(tmp_path, victim):
    # load_mnist's probe was the fixed name MNIST/.write_test, truncated through a symlink.
    folder = tmp_path / "data" / "MNIST"
    folder.mkdir(parents=True)
    (folder / ".write_test").symlink_to(victim)
    assert data._unwritable(folder) == ""
    assert victim.read_text(encoding="utf-8") == "precious"
    assert sorted(p.name for p in folder.iterdir()) == [".write_test"]  # nothing left behind


def test_save_trained_never_follows_a_planted_symlink(cache, victim):
    # save_trained wrote the fixed name <name>.tmp, which overwrote another user's file.
    folder = cache / "cache" / "models"
    folder.mkdir(parents=True)
    (folder / "lenet.tmp").symlink_to(victim)
    (folder / "lenet.pt").symlink_to(victim)  # and one at the real name
    model = cu.LeNet5()
    path = weights.save_trained(model, "lenet")
    assert victim.read_text(encoding="utf-8") == "precious"
    assert not path.is_symlink() and path.is_file()
    again = cu.LeNet5()
    assert weights.load_trained(again, "lenet")
    torch.testing.assert_close(again.state_dict(), model.state_dict())
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def test_atomic_file_leaves_the_old_file_when_the_writer_fails(tmp_path):
    dest = tmp_path / "run.pt"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="half-way"), env.atomic_file(dest) as out:
        out.write(b"new, half")
        raise RuntimeError("half-way")
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]
    with env.atomic_file(dest) as out:
        out.write(b"new")
    assert dest.read_bytes() == b"new"
    umask = os.umask(0o022)
    os.umask(umask)
    assert dest.stat().st_mode & 0o777 == 0o666 & ~umask  # readable by a class, as open() makes


SAVER = textwrap.dedent(
    """
    import sys, torch
    import course_utils as cu
    from course_utils import weights
    me, rounds = int(sys.argv[1]), int(sys.argv[2])
    torch.manual_seed(me)
    mine = cu.LeNet5()
    failures = 0
    for _ in range(rounds):
        weights.save_trained(mine, "shared-run", extra={"writer": me})
        other = cu.LeNet5()
        record = weights.load_trained_record(other, "shared-run")  # raises on a torn file
        if record is None or record["extra"]["writer"] not in (0, 1):
            failures += 1
        else:  # the weights read are one writer's whole file, never a mix
            torch.manual_seed(record["extra"]["writer"])
            expected = cu.LeNet5().state_dict()
            if any(not torch.equal(v, expected[k]) for k, v in other.state_dict().items()):
                failures += 1
    print(failures)
    """
)


def test_two_kernels_saving_the_same_run_never_collide_or_tear_it(cache):
    # 3-9 of 30 concurrent saves raised FileNotFoundError, and loads read half-written files.
    env = {**os.environ, "COURSE_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SAVER, str(me), "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for me in (0, 1)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        assert out.strip() == "0"
    folder = cache / "cache" / "models"
    assert sorted(p.name for p in folder.iterdir()) == ["shared-run.pt"]
