import sys
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

import course_utils as cu


def test_fit_learns_the_shipped_digits(digits, capsys):
    train, test = digits
    cu.seed_everything(0)
    model = cu.LeNet5()
    before = cu.evaluate(model, test)
    history = cu.fit(model, train, test, epochs=3, live=False)
    assert before < 0.3
    assert history.test_accuracy[-1] > 0.9
    assert len(history.test_accuracy) == len(history.train_loss) == 3
    assert history.train_loss[2] < history.train_loss[1] < history.train_loss[0]
    assert len(history.batch_loss) == 3 * 125  # 4,000 digits in batches of 32
    # The epoch's loss is the mean of its batches' losses (all batches hold 32 digits here).
    assert history.train_loss[0] == pytest.approx(sum(history.batch_loss[:125]) / 125)
    assert history.test_accuracy[-1] == pytest.approx(cu.evaluate(model, test))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("epoch  1/3") and "test" in lines[0]


def test_fit_takes_any_dataset_of_pairs():
    cu.seed_everything(0)
    pairs = [(torch.rand(1, 28, 28), k % 10) for k in range(40)]
    history = cu.fit(
        cu.LeNet5(),
        pairs,
        pairs,
        epochs=1,
        batch_size=8,
        live=False,
        augment=cu.augment.RandomShift(1),
    )
    assert len(history.test_accuracy) == 1
    tensors = TensorDataset(torch.rand(16, 1, 28, 28), torch.arange(16) % 10)
    assert cu.fit(cu.LeNet5(), tensors, tensors, epochs=1, live=False).epochs == 1


def test_empty_dataset_is_refused_before_training():
    empty = TensorDataset(torch.empty(0, 1, 28, 28), torch.empty(0, dtype=torch.long))
    with pytest.raises(ValueError, match="training set is empty"):
        cu.fit(cu.LeNet5(), empty, empty, epochs=1, live=False)


def test_wrong_image_shape_is_refused_before_training():
    model = cu.LeNet5()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    colour = TensorDataset(torch.rand(8, 3, 32, 32), torch.zeros(8, dtype=torch.long))
    with pytest.raises(ValueError, match=r"3 × 32 × 32"):
        cu.fit(model, colour, colour, epochs=1, live=False)
    flat = TensorDataset(torch.rand(8, 784), torch.zeros(8, dtype=torch.long))
    with pytest.raises(ValueError, match="C × H × W"):
        cu.fit(model, flat, flat, epochs=1, live=False)
    torch.testing.assert_close(model.state_dict(), state)  # untouched


def test_labels_beyond_the_outputs_are_refused():
    bad = TensorDataset(torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 12]))
    with pytest.raises(ValueError, match="10 outputs"):
        cu.fit(cu.LeNet5(), bad, bad, epochs=1, live=False)


def test_bad_settings_are_refused(digits):
    train, test = digits
    with pytest.raises(ValueError, match="epochs"):
        cu.fit(cu.LeNet5(), train, test, epochs=0, live=False)
    with pytest.raises(ValueError, match="schedule"):
        cu.fit(cu.LeNet5(), train, test, epochs=1, live=False, schedule="step")


def test_predict_gives_probabilities(digits):
    _, test = digits
    probs = cu.predict(cu.LeNet5(), test)
    assert probs.shape == (1000, 10)
    torch.testing.assert_close(probs.sum(1), torch.ones(1000))


def test_fit_defaults_are_the_course_recipe(digits):
    """The contract: fit(LeNet5(), train, test, epochs=15) and nothing else reaches 97.5%."""
    train, test = digits
    cu.seed_everything(0)
    history = cu.fit(cu.LeNet5(), train, test, epochs=15, quiet=True)
    assert history.test_accuracy[-1] >= 0.975, history


def test_seeded_runs_repeat_exactly(digits):
    train, test = digits
    runs = []
    for _ in range(2):
        cu.seed_everything(3)
        model = cu.LeNet5()
        history = cu.fit(model, train, test, epochs=2, quiet=True)
        runs.append((history, model.state_dict()))
    (h1, w1), (h2, w2) = runs
    assert h1.batch_loss == h2.batch_loss and h1.test_accuracy == h2.test_accuracy
    torch.testing.assert_close(w1, w2, rtol=0, atol=0)


def test_fit_restores_nothing_it_should_not_and_leaves_the_model_in_eval_mode(digits):
    train, test = digits
    model = cu.LeNet5()
    cu.fit(model, cu.data.subset(train, 64), test, epochs=1, quiet=True, augment=None)
    assert not model.training
    assert cu.model_device(model) == cu.device()


def test_fit_reads_values_back_once_per_epoch_not_per_batch(digits, monkeypatch):
    """On a GPU, every .item() or .tolist() makes the CPU wait: fit must not do one per batch.

    Counted on the CPU by wrapping the methods that copy a value out of a tensor, and keeping
    the calls made from course_utils itself (the optimizer's own, on the CPU, are torch's).
    """
    train, test = digits  # 4,000 digits: 125 batches per epoch
    package = str(Path(cu.__file__).parent)
    reads = []
    for method in ("item", "tolist", "__float__", "__int__", "__bool__", "numpy"):
        original = getattr(torch.Tensor, method)

        def counted(self, *args, _original=original, _method=method, **kwargs):
            caller = sys._getframe(1).f_code
            if caller.co_filename.startswith(package):
                reads.append(f"{_method} in {caller.co_name}")
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, counted)
    cu.fit(cu.LeNet5(), train, test, epochs=2, batch_size=32, quiet=True)
    monkeypatch.undo()
    # A handful per epoch (the losses, the accuracies) and a few checks before training;
    # one per batch would be 250.
    assert 0 < len(reads) <= 20, f"{len(reads)} reads in 250 batches: {reads[:20]}"
