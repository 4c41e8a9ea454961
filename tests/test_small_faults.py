"""Issue 21's small faults: each input a student or an instructor could give gets a clear answer."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import course_utils as cu
from course_utils import families, prefetch


def test_race_takes_one_family_name_as_a_string_and_refuses_none(cache, digits):
    train, test = (cu.data.subset(d, n, seed=0) for d, n in zip(digits, (128, 64), strict=True))
    results = families.race(train, test, names="LeNet5", epochs=1, device="cpu")
    assert list(results) == ["LeNet5"]  # not "Unknown family 'L'"
    with pytest.raises(ValueError, match="no families"):
        families.race(train, test, names=[], epochs=1)


def test_plot_race_of_no_rows_says_what_to_pass():
    with pytest.raises(ValueError, match="race_rows"):
        cu.plots.plot_race([])


def test_fit_takes_numpy_images_and_whole_float_epochs_and_names_bad_ones(digits):
    train, test = (cu.data.subset(d, n, seed=0) for d, n in zip(digits, (64, 32), strict=True))

    class Arrays:  # .images and .labels as NumPy arrays
        def __init__(self, ds):
            self.images, self.labels = ds.images.numpy(), ds.labels.numpy()

        def __len__(self):
            return len(self.labels)

    history = cu.fit(cu.LeNet5(), Arrays(train), test, epochs=2.0, quiet=True, device="cpu")
    assert history.epochs == 2 and isinstance(Arrays(train).images, np.ndarray)
    with pytest.raises(TypeError, match=r"epochs must be a whole number, such as 3, not 1\.5"):
        cu.fit(cu.LeNet5(), train, test, epochs=1.5, quiet=True)


def test_the_family_explorer_takes_names_in_any_case(digits):
    nets = {"ResNet": families.build("ResNet"), "VGG": families.build("VGG")}
    explorer = cu.widgets.family_explorer(nets, cu.data.subset(digits[1], 16), family="resnet")
    assert explorer.family.value == "ResNet"
    with pytest.raises(ValueError, match="Unknown family 'densenet'.*ResNet, VGG"):
        cu.widgets.family_explorer(nets, cu.data.subset(digits[1], 16), family="densenet")


def test_prefetch_data_dir_with_a_tilde_is_the_home_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("COURSE_OFFLINE", "1")
    prefetch.main(["--models", "--data-dir", "~/pack"])
    out = capsys.readouterr().out
    assert f"MNIST: {tmp_path / 'pack' / 'MNIST'}" in out
    assert not (tmp_path / "~").exists()  # no folder named "~"


def test_colab_sync_outside_the_repository_says_where_to_run_it(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "course_utils.colab"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert f"No notebooks in {tmp_path / 'notebooks'}" in done.stderr
