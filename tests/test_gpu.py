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


def test_a_non_finite_loss_stops_at_its_batch_on_cuda_without_waiting_each_batch():
    """On CUDA the fused AdamW skips, on the device, every step from the first NaN loss on: the
    model keeps the weights from before that batch (as a run interrupted there), and the epoch's
    one read finds it."""
    train, test = digits()  # 16 batches per epoch

    class Poison:
        calls = 0

        def __call__(self, batch):
            self.calls += 1
            return batch * float("nan") if self.calls == 20 else batch

    class StopAt:
        calls = 0

        def __call__(self, batch):
            self.calls += 1
            if self.calls == 20:
                raise KeyboardInterrupt
            return batch

    cu.seed_everything(0)
    model = cu.LeNet5()
    with pytest.raises(cu.train.TrainingError, match="batch 4 of epoch 2.*before that batch"):
        cu.fit(model, train, test, epochs=3, device="cuda", quiet=True, augment=Poison())
    cu.seed_everything(0)
    reference = cu.LeNet5()
    with pytest.raises(KeyboardInterrupt):
        cu.fit(reference, train, test, epochs=3, device="cuda", quiet=True, augment=StopAt())
    torch.testing.assert_close(model.state_dict(), reference.state_dict())
