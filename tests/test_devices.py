"""Device mixing, caught on a machine without a GPU: every model-taking function on a 2nd device.

PyTorch's "lazy" device (its TorchScript backend) computes on the CPU but is a device of its
own: a CPU tensor fed to a model there fails exactly as it would on CUDA. Each case of
tests/device_cases.py runs there and must return, on the CPU, what it returns on the CPU.
"""

import pytest
from device_cases import CASES, compare


def _lazy_device() -> str | None:
    try:
        import torch._lazy.ts_backend

        torch._lazy.ts_backend.init()
        torch.ones(1, device="lazy").cpu()
    except Exception as err:  # a private backend: a later torch may drop it
        return f"PyTorch's lazy TorchScript device is not available here ({err})"
    return None


REASON = _lazy_device()


@pytest.mark.skipif(REASON is not None, reason=REASON or "")
@pytest.mark.parametrize("name", list(CASES))
def test_runs_with_the_model_on_another_device(name, monkeypatch, tmp_path):
    compare(name, "lazy", monkeypatch, tmp_path, rtol=1e-4, atol=1e-5)
