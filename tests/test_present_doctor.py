import hashlib
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.pyplot as plt

import course_utils as cu


def test_present_makes_figures_and_fonts_larger_and_undoes_it():
    before = plt.rcParams["figure.dpi"], plt.rcParams["font.size"]
    try:
        cu.present(scale=2.0)
        fig = cu.plots.history_figure()
        assert fig.dpi == 2 * before[0]
        assert plt.rcParams["font.size"] == 2 * before[1]
        cu.present(scale=2.0)  # twice is the same as once
        assert plt.rcParams["font.size"] == 2 * before[1]
    finally:
        cu.present(False)
    assert (plt.rcParams["figure.dpi"], plt.rcParams["font.size"]) == before


def test_doctor_reports_versions_device_network_and_caches(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    d = cu.doctor()
    out = capsys.readouterr().out
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    version = re.search(r'^version = "(.+)"$', pyproject, re.M)[1]
    assert d.versions["torch"] and d.versions["course_utils"] == version  # the installed one
    assert "Device: " + str(cu.device()) in out
    assert "not reachable" in out and d.online is False
    assert d.weights == {name: False for name in cu.weights.PRETRAINED}
    assert any("prefetch" in m and "resnet50" in m for m in d.missing)
    assert any("MNIST" in m for m in d.missing)
    # a damaged weights file is not counted as cached (issue 21), and is named with the fix
    path = cu.weights.weights_file("resnet18")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"x")
    d = cu.doctor(show=False)
    assert d.weights["resnet18"] is False
    assert any(str(path) in m and "damaged" in m for m in d.missing)
    # one whose SHA-256 starts with the prefix in its name is
    intact = path.with_name(f"resnet18-{hashlib.sha256(b'x').hexdigest()[:8]}.pth")
    intact.write_bytes(b"x")
    real = cu.weights.weights_file
    monkeypatch.setattr(
        cu.weights, "weights_file", lambda n: intact if n == "resnet18" else real(n)
    )
    assert cu.doctor(show=False).weights["resnet18"] is True


def test_doctor_counts_weights_in_a_students_own_copy_beside_a_read_only_pack(
    tmp_path, monkeypatch, make_read_only
):
    """A class's read-only course pack lacks resnet18; the student fetched it into their own
    copy (env.own_copy), where pretrained() reads it: doctor() counts it as cached too."""
    pack, mine = tmp_path / "pack", tmp_path / "mine"
    monkeypatch.setenv("TORCH_HOME", str(pack))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(mine))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    name = f"resnet18-{hashlib.sha256(b'x').hexdigest()[:8]}.pth"  # its checksum holds
    real = cu.weights.weights_file
    monkeypatch.setattr(
        cu.weights,
        "weights_file",
        lambda n: cu.weights.weights_folder() / name if n == "resnet18" else real(n),
    )
    cu.weights.weights_folder().mkdir(parents=True)
    own = cu.weights.weights_folder(mine / "torch") / name
    own.parent.mkdir(parents=True)
    own.write_bytes(b"x")
    make_read_only(pack)
    assert cu.weights.own_file("resnet18") == own
    d = cu.doctor(show=False)
    assert d.weights["resnet18"] is True
    assert not any(
        "resnet18," in m or m.startswith("pretrained weights for resnet18") for m in d.missing
    )


def test_present_false_keeps_the_settings_you_changed_yourself():
    before = plt.rcParams["font.size"], plt.rcParams["figure.dpi"]
    try:
        cu.present()
        plt.rcParams["font.size"] = 7  # the user's own choice, after presenting began
    finally:
        cu.present(False)
    try:
        assert plt.rcParams["font.size"] == 7  # kept
        assert plt.rcParams["figure.dpi"] == before[1]  # present's own change undone
    finally:
        plt.rcParams["font.size"] = before[0]


def test_doctor_does_not_crash_on_a_forced_device_that_is_not_there(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("torch.backends.mps.is_available", lambda: False)
    for forced in ("cuda", "mps"):
        monkeypatch.setenv("COURSE_DEVICE", forced)
        d = cu.doctor(show=False)
        assert (
            d.device.startswith(forced) and "NOT USABLE" in d.device and "COURSE_DEVICE" in d.device
        )


def test_python_m_course_utils_doctor_prints_the_report():

    env = {**__import__("os").environ, "COURSE_OFFLINE": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "course_utils.doctor"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "Device: " in out.stdout and "Network: not reachable" in out.stdout
