import random
import socket

import numpy as np
import torch

import course_utils as cu
from course_utils import config


def test_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = (
        "cuda"
        if torch.cuda.is_available()
        else "mps"
        if torch.backends.mps.is_available()
        else "cpu"
    )
    assert cu.device().type == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert cu.device().type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cu.device().type == "cuda"


def test_device_can_be_forced(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert cu.device() == torch.device("cpu")


def test_seed_everything_repeats_every_generator():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3).tolist()

    cu.seed_everything(123)
    first = draw()
    cu.seed_everything(123)
    assert draw() == first
    cu.seed_everything(124)
    assert draw() != first


def test_folders_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "t"))
    assert config.data_dir() == tmp_path / "d"
    assert config.cache_dir() == tmp_path / "c"
    assert config.torch_home() == tmp_path / "t"


def test_network_timeout_is_restored():
    before = socket.getdefaulttimeout()
    with config.network_timeout(0.5):
        assert socket.getdefaulttimeout() == 0.5
    assert socket.getdefaulttimeout() == before


def test_note_prints_plain_text_outside_a_notebook(capsys):
    config.note("offline <fallback>")
    assert capsys.readouterr().out == "Note: offline <fallback>\n"
