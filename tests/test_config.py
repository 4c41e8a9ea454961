import os
import random
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import course_utils as cu
from course_utils import anatomy, download, env, show


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
    assert env.data_dir() == tmp_path / "d"
    assert env.cache_dir() == tmp_path / "c"
    assert env.torch_home() == tmp_path / "t"


def test_note_prints_plain_text_outside_a_notebook(capsys):
    show.note("offline <fallback>")
    assert capsys.readouterr().out == "Note: offline <fallback>\n"


def test_model_device_with_parameters_buffers_or_nothing():
    assert anatomy.model_device(torch.nn.Linear(2, 2)) == torch.device("cpu")
    assert anatomy.model_device(torch.nn.BatchNorm2d(3, affine=False)) == torch.device("cpu")
    assert anatomy.model_device(torch.nn.ReLU()) == torch.device("cpu")  # nothing to ask
    meta = torch.nn.Linear(2, 2, device="meta")
    assert anatomy.model_device(meta) == torch.device("meta")


def test_evaluating_restores_each_submodule_even_after_an_error():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.BatchNorm1d(4), torch.nn.Dropout())
    model.train()
    model[1].eval()  # a frozen BatchNorm inside a training model must stay frozen
    with pytest.raises(RuntimeError, match="mat1 and mat2"):
        with anatomy.evaluating(model) as dev:
            assert dev == torch.device("cpu")
            assert not any(m.training for m in model.modules())
            assert not torch.is_grad_enabled()
            model(torch.ones(2, 5))  # wrong width: raises inside
    assert [m.training for m in model] == [True, False, True] and model.training
    assert torch.is_grad_enabled()


def test_progress_in_a_notebook_keeps_its_final_state(monkeypatch):
    shown = []

    class Handle:
        def update(self, obj, **kwargs):
            shown.append(obj)

    monkeypatch.setattr(show, "in_notebook", lambda: True)
    monkeypatch.setattr("IPython.display.display", lambda obj, **kw: shown.append(obj) or Handle())
    bar = show.Progress(10, desc="training", unit="batches", interval=3600)
    for _ in range(10):
        bar.update(1)
    assert len(shown) == 1  # within the interval: not redrawn per step
    bar.close()
    assert shown[-1]["text/plain"].startswith("training: 100% (10/10 batches")
    assert 'value="10" max="10"' in shown[-1]["text/html"]


def test_progress_of_slow_steps_reads_as_seconds_each_not_zero_per_second(monkeypatch):
    clock = iter([100.0, 130.0, 130.0])  # start, then two reads 30 s later: 3 nets in 30 s
    monkeypatch.setattr(show.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(show, "in_notebook", lambda: False)
    bar = show.Progress(9, desc="families", unit="nets", interval=0)
    bar.n = 3
    text = bar._text()
    assert "10.0 s per net" in text and "0 nets/s" not in text, text
    bar.bar.close()


def test_reachable_says_no_at_once_for_a_closed_port_and_offline(monkeypatch):
    assert not download.reachable("http://127.0.0.1:9/file.pth", timeout=1)
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    assert not download.reachable("localhost")


def test_download_checks_before_it_renames_and_keeps_nothing_partial(tmp_path, monkeypatch):
    import hashlib

    from test_data import file_server, trickle_server

    body = b"0123456789" * 1000
    dest = tmp_path / "file.bin"
    with file_server({"file.bin": body}) as (url, requested):
        # A wrong checksum: the file already there stays as it was, nothing else is left.
        dest.write_bytes(b"the old file")
        with pytest.raises(download.DownloadError, match="MD5"):
            download.download(url + "file.bin", dest, md5="0" * 32)
        assert dest.read_bytes() == b"the old file"
        assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]
        # The right one replaces it.
        sha = hashlib.sha256(body).hexdigest()[:8]
        assert download.download(url + "file.bin", dest, sha256=sha) == dest
        assert dest.read_bytes() == body
        # COURSE_OFFLINE: not one request.
        monkeypatch.setenv("COURSE_OFFLINE", "1")
        with pytest.raises(download.DownloadError, match="COURSE_OFFLINE"):
            download.download(url + "file.bin", tmp_path / "other.bin")
        assert requested == ["/file.bin", "/file.bin"]
    monkeypatch.delenv("COURSE_OFFLINE")
    # A server that answers, sends a byte and then nothing: the silence limit ends it.
    with trickle_server(every=30, give_up=30) as url:
        start = time.monotonic()
        with pytest.raises(download.DownloadError, match="nothing arrived for 1 s"):
            download.download(url + "x", tmp_path / "x", silence_s=1)
        assert time.monotonic() - start < 3
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_download_deadline_grows_with_the_size():
    assert download.download_deadline(9_912_422) == pytest.approx(109.1, abs=0.1)
    assert download.download_deadline(None) == download.DOWNLOAD_UNKNOWN_SIZE_S


def test_a_misspelt_course_device_names_the_variable_its_values_and_the_fix(monkeypatch):
    for value in ("gpu", "CPU", " cpu", "cuda:x"):
        monkeypatch.setenv("COURSE_DEVICE", value)
        with pytest.raises(env.DeviceSettingError) as err:
            env.device()
        message = str(err.value)
        assert f"COURSE_DEVICE={value!r}" in message and "cpu, cuda, cuda:N" in message, message
        assert "unset it" in message
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert env.device() == torch.device("cpu")


def test_a_course_device_this_machine_lacks_fails_with_the_same_message_in_fit(monkeypatch, digits):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: False)
    for value in ("cuda", "cuda:1", "mps"):
        monkeypatch.setenv("COURSE_DEVICE", value)
        with pytest.raises(env.DeviceSettingError, match="COURSE_DEVICE=cpu, or unset it"):
            env.device()
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    train, test = digits
    with pytest.raises(env.DeviceSettingError, match=r"COURSE_DEVICE='cuda', but torch"):
        cu.fit(cu.LeNet5(), train, test, epochs=1, quiet=True, live=False)
    monkeypatch.setenv("COURSE_DEVICE", "gpu")  # doctor reports it instead of crashing
    d = cu.doctor(show=False)
    assert "NOT USABLE" in d.device and "COURSE_DEVICE='gpu' is not a device name" in d.device


# --- threads that fit the CPUs this kernel really has (issue 21) -------------------------------


def test_cgroup_quota_is_read_from_cpu_max_and_from_cgroup_v1(tmp_path):
    v2 = tmp_path / "cpu.max"
    v1 = (tmp_path / "quota", tmp_path / "period")
    absent = (tmp_path / "no-quota", tmp_path / "no-period")
    v2.write_text("150000 100000\n", encoding="utf-8")
    assert env.cgroup_cpu_limit(v2, absent) == 1.5
    v2.write_text("max 100000\n", encoding="utf-8")
    assert env.cgroup_cpu_limit(v2, absent) is None  # no limit
    v1[0].write_text("200000\n", encoding="utf-8")
    v1[1].write_text("100000\n", encoding="utf-8")
    assert env.cgroup_cpu_limit(tmp_path / "none", v1) == 2.0
    v1[0].write_text("-1\n", encoding="utf-8")  # cgroup v1's "no limit"
    assert env.cgroup_cpu_limit(tmp_path / "none", v1) is None
    assert env.cgroup_cpu_limit(tmp_path / "none", absent) is None


def test_threads_follow_the_quota_the_load_and_course_threads(monkeypatch):
    monkeypatch.delenv("COURSE_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(env, "cgroup_cpu_limit", lambda: None)
    assert env.choose_threads(load=0.0)[0] == 4  # a quiet machine: every CPU
    assert env.choose_threads(load=2.2)[0] == 2  # two CPUs kept busy by other work
    threads, why = env.choose_threads(load=9.0)  # overloaded: one thread, never zero
    assert threads == 1 and "load 9.0" in why
    monkeypatch.setattr(env, "cgroup_cpu_limit", lambda: 1.5)  # a hub pod's CPU limit
    threads, why = env.choose_threads(load=0.0)
    assert threads == 1 and "cgroup quota of 1.5 CPUs" in why
    monkeypatch.setenv("COURSE_THREADS", "3")
    assert env.choose_threads(load=9.0) == (3, "set by COURSE_THREADS=3")


@pytest.mark.parametrize("value", ["0", "two", "-1", "1.5"])
def test_a_bad_course_threads_names_the_variable_and_the_fix(monkeypatch, value):
    monkeypatch.setenv("COURSE_THREADS", value)
    with pytest.raises(env.ThreadSettingError, match=r"COURSE_THREADS=.*whole number"):
        env.fit_threads()


def test_importing_the_course_sets_torchs_threads_and_doctor_reports_them(monkeypatch):
    monkeypatch.setenv("COURSE_THREADS", "1")
    code = (
        "import torch, course_utils as cu; print(torch.get_num_threads());"
        "print(cu.doctor(show=False))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.splitlines()[0] == "1"
    assert "Torch threads: 1 (set by COURSE_THREADS=1; COURSE_THREADS overrides)" in out


def test_every_error_the_course_raises_is_a_course_error_and_keeps_its_kind(tmp_path):
    """`except cu.CourseError` catches any of them; each still says what kind of mistake it is."""
    import importlib
    import inspect
    import pkgutil

    import course_utils as cu

    errors = {
        obj
        for info in pkgutil.iter_modules(cu.__path__)
        for _, obj in inspect.getmembers(importlib.import_module(f"course_utils.{info.name}"))
        if inspect.isclass(obj)
        and issubclass(obj, Exception)
        and not issubclass(obj, Warning)
        and obj.__module__.startswith("course_utils")
    }
    assert len(errors) >= 10, sorted(e.__name__ for e in errors)
    assert {e.__name__ for e in errors if not issubclass(e, cu.CourseError)} == set()
    kinds = (ValueError, OSError, RuntimeError)
    assert {e.__name__ for e in errors - {cu.CourseError} if not issubclass(e, kinds)} == set()
    with pytest.raises(cu.CourseError):  # a real one, raised as a student meets it
        cu.load_image(tmp_path / "no-such-photo.jpg")
    with pytest.raises(ValueError):  # and what code written before CourseError still catches
        cu.load_image(tmp_path / "no-such-photo.jpg")
