"""On a CUDA GPU: every model-taking function with the model there, against the CPU's results.

Skipped, saying so, where there is no CUDA GPU; tests/test_devices.py runs the same cases on a
second device that every machine has. Colab's GPU runtime is where students meet CUDA.
"""

import warnings

import pytest
import torch
from device_cases import CASES, compare, digits

import course_utils as cu

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="no CUDA GPU here (torch.cuda.is_available() is False); "
    "tests/test_devices.py checks the same cases on the lazy device",
)


@pytest.mark.parametrize("name", list(CASES))
def test_runs_with_the_model_on_cuda(name, monkeypatch, tmp_path):
    # TF32 convolutions (cuDNN's default on recent GPUs) agree with the CPU to about 1e-3.
    compare(name, "cuda", monkeypatch, tmp_path, rtol=1e-2, atol=2e-3)


def test_fit_waits_for_the_gpu_once_per_epoch_not_per_batch():
    train, test = digits()  # 512 digits: 16 batches per epoch
    cu.seed_everything(0)
    torch.cuda.set_sync_debug_mode("warn")  # every wait for the GPU warns
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cu.fit(cu.LeNet5(), train, test, epochs=3, device="cuda", quiet=True)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    waits = [w for w in caught if "synchroniz" in str(w.message)]
    # Checks before training and a few reads at each epoch's end; 48 batches would be 48+.
    assert len(waits) < 3 * 16, [str(w.message) for w in waits[:5]]
