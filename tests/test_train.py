import dataclasses
import inspect
import math
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset
from torchvision import models as tvm

import course_utils as cu
from course_utils import race


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
    model = cu.LeNet5()
    probs = cu.predict(model, test)
    assert probs.shape == (1000, 10)
    torch.testing.assert_close(probs.sum(1), torch.ones(1000))
    # a batch of images works too, with the same answer
    torch.testing.assert_close(cu.predict(model, test.images[:7]), probs[:7])


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
    # The path fit takes on CUDA: a fused AdamW, told on the device to skip a non-finite step.
    # (On the CPU fit checks each loss as it comes: nothing is queued there, so that is free.)
    monkeypatch.setattr(cu.train, "optimizer_for", _fused_adamw)
    cu.fit(cu.LeNet5(), train, test, epochs=2, batch_size=32, quiet=True, device="cpu")
    monkeypatch.undo()
    # A handful per epoch (the losses, the accuracies) and a few checks before training;
    # one per batch would be 250.
    assert 0 < len(reads) <= 20, f"{len(reads)} reads in 250 batches: {reads[:20]}"


class InterruptAt:
    """An augmentation that presses the interrupt button at its n-th batch."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __call__(self, batch):
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt
        return batch


def test_the_interrupt_keeps_the_model_and_then_stops_the_cell(digits, capsys):
    train, test = digits
    small = cu.data.subset(train, 320)  # 10 batches per epoch
    cu.seed_everything(0)
    model = cu.LeNet5()
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(KeyboardInterrupt):  # let through: queued cells must not run
        cu.fit(model, small, test, epochs=5, live=False, augment=InterruptAt(25))
    history = model.fit_history
    assert history.interrupted and not history.finished
    assert history.epochs == 2 and history.planned_epochs == 5
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert not model.training
    assert "stopped by the user after 2 of 5 epochs" in capsys.readouterr().out


def test_a_saved_model_records_whether_its_training_finished(digits, cache):
    train, test = digits
    small = cu.data.subset(train, 320)
    model = cu.LeNet5()
    with pytest.raises(KeyboardInterrupt):
        cu.fit(model, small, test, epochs=3, quiet=True, augment=InterruptAt(15))
    cu.weights.save_trained(model, "half")
    again = cu.LeNet5()
    with pytest.warns(cu.show.CourseWarning, match="stopped after 1 of 3 epochs"):
        assert cu.weights.load_trained(again, "half")
    torch.testing.assert_close(again.state_dict(), model.state_dict())
    cu.fit(model, small, test, epochs=1, quiet=True)
    cu.weights.save_trained(model, "whole")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a finished one loads without a word
        assert cu.weights.load_trained(cu.LeNet5(), "whole")


def test_saved_names_cannot_leave_the_models_folder(cache):
    for name in ["../escape", "/etc/passwd", "a/b", "..", ".hidden", ""]:
        with pytest.raises(ValueError, match="not a name for saved weights"):
            cu.weights.save_trained(cu.LeNet5(), name)
    assert not (cache / "cache" / "escape.pt").exists()


def test_a_nan_pixel_is_refused_before_training(digits):
    train, test = digits
    images = train.images[:64].clone()
    images[3, 0, 5, 5] = float("nan")
    bad = TensorDataset(images, train.labels[:64])
    model = cu.LeNet5()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(cu.train.TrainingError, match="1 pixels that are NaN"):
        cu.fit(model, bad, test, epochs=1, quiet=True)
    torch.testing.assert_close(model.state_dict(), state)


class Poison:
    """An augmentation that makes NaN inputs in its n-th batch, as a broken one can."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __call__(self, batch):
        self.calls += 1
        return batch * float("nan") if self.calls == self.n else batch


def _fused_adamw(model, lr, weight_decay, dev):
    """The optimizer fit uses on CUDA (fused AdamW, which skips a step on the device when told
    to), here on the CPU: fit's path for a device whose queue must not wait."""
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, fused=True)


@pytest.mark.parametrize("optimizer", ["cpu", "fused, as on CUDA"])
def test_a_non_finite_loss_stops_at_its_batch_with_the_weights_from_before_it(
    digits, optimizer, monkeypatch
):
    """NaN inputs in the 15th batch (the 5th of epoch 2): training stops there, and the model
    has exactly the weights of a run interrupted before that batch, not those of the epoch's
    start (what fit kept before; and on CUDA it noticed only at the epoch's end)."""
    train, test = digits
    small = cu.data.subset(train, 320)  # 10 batches per epoch
    if optimizer != "cpu":
        monkeypatch.setattr(cu.train, "optimizer_for", _fused_adamw)
    cu.seed_everything(0)
    model = cu.LeNet5()
    with pytest.raises(cu.train.TrainingError, match="batch 5 of epoch 2.*before that batch"):
        cu.fit(model, small, test, epochs=3, quiet=True, augment=Poison(15), device="cpu")
    assert model.fit_history.epochs == 1
    cu.seed_everything(0)
    reference = cu.LeNet5()
    with pytest.raises(KeyboardInterrupt):  # the same run, stopped before the 15th batch
        cu.fit(reference, small, test, epochs=3, quiet=True, augment=InterruptAt(15), device="cpu")
    torch.testing.assert_close(model.state_dict(), reference.state_dict(), rtol=0, atol=0)


def test_common_mistakes_get_a_message_before_training(digits):
    from PIL import Image

    train, test = digits
    pil = [(Image.new("L", (28, 28)), 3)] * 8
    with pytest.raises(cu.train.TrainingError, match="PIL.*ToTensor"):
        cu.fit(cu.LeNet5(), pil, pil, epochs=1, quiet=True)
    column = TensorDataset(train.images[:8], train.labels[:8, None])
    with pytest.raises(cu.train.TrainingError, match=r"shape 8 × 1.*squeeze"):
        cu.fit(cu.LeNet5(), column, column, epochs=1, quiet=True)
    with pytest.raises(cu.train.TrainingError, match="float64.*model.float"):
        cu.fit(cu.LeNet5().double(), train, test, epochs=1, quiet=True)
    googlenet = cu.weights.untrained("googlenet")
    googlenet.aux_logits = True  # as torchvision builds it for training
    googlenet.aux1 = tvm.googlenet(aux_logits=True, init_weights=False).aux1
    googlenet.aux2 = tvm.googlenet(aux_logits=True, init_weights=False).aux2
    colour = TensorDataset(torch.rand(4, 3, 64, 64), torch.arange(4))
    with pytest.raises(cu.train.TrainingError, match="returns GoogLeNetOutputs.*aux_logits=False"):
        cu.fit(googlenet, colour, colour, epochs=1, quiet=True)
    with_bn = cu.LeNet5(batch_norm=True)
    odd = cu.data.subset(train, 65)  # 2 batches of 32 and one of 1
    with pytest.raises(cu.train.TrainingError, match="last batch holds one image.*batch size"):
        cu.fit(with_bn, odd, test, epochs=1, quiet=True)
    assert with_bn.features[1].num_batches_tracked == 0  # the checks trained nothing


# --- the recipe: one frozen dataclass, fit's defaults ------------------------------------------


def test_the_course_recipe_is_one_frozen_dataclass_that_prints_and_makes_variants():
    recipe = cu.train.RECIPE
    assert isinstance(recipe, cu.train.Recipe)
    assert recipe.optimizer == "AdamW" and recipe.schedule == "cosine"
    numbers = (recipe.lr, recipe.weight_decay, recipe.epochs, recipe.batch_size)
    assert numbers == (0.002, 0.05, 15, 32)
    assert isinstance(recipe.augment, cu.augment.RandomShift) and recipe.augment.pixels == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        recipe.lr = 0.1
    lines = str(recipe).splitlines()  # one field a line, as notebook 01 prints it
    assert "  lr           0.002" in lines and "  epochs       15" in lines
    assert "  augment      RandomShift(pixels=1)" in lines
    assert "lr=0.002" in repr(recipe)
    slower = dataclasses.replace(recipe, lr=1e-3, augment=None)
    assert (slower.lr, slower.augment, slower.epochs) == (1e-3, None, 15)
    assert recipe.lr == 0.002 and "None (the images as they are)" in str(slower)
    assert dataclasses.replace(recipe, epochs=3.0, lr=1).epochs == 3  # whole numbers are taken


@pytest.mark.parametrize(
    "change, error, message",
    [
        ({"schedule": "step"}, ValueError, "schedule must be 'cosine' or 'constant', not 'step'"),
        ({"lr": 0}, ValueError, "lr must be a positive finite number, not 0"),
        ({"lr": -0.1}, ValueError, "lr must be a positive finite number, not -0.1"),
        ({"lr": float("nan")}, ValueError, "lr must be a positive finite number, not nan"),
        ({"lr": "2e-3"}, TypeError, "lr must be a positive number, such as 0.002, not '2e-3'"),
        ({"weight_decay": -1}, ValueError, "weight_decay must be a non-negative finite number"),
        ({"epochs": 0}, ValueError, "epochs must be at least 1, not 0"),
        ({"batch_size": 2.5}, TypeError, "batch_size must be a whole number, such as 3, not 2.5"),
        ({"epochs": True}, TypeError, "epochs must be a whole number, such as 3, not True"),
        ({"optimizer": "SGD"}, ValueError, "optimizer must be one of \\('AdamW',\\), not 'SGD'"),
        ({"augment": 1}, TypeError, "augment must map a batch to a batch, or be None, not 1"),
    ],
)
def test_a_bad_recipe_is_refused_naming_the_value(change, error, message):
    with pytest.raises(error, match=message):
        dataclasses.replace(cu.train.RECIPE, **change)


def _recorded_lrs(monkeypatch) -> list:
    """Makes fit note ("built", lr, weight_decay) when it builds its optimizer, then the
    learning rate at every step that the optimizer takes."""
    lrs: list = []
    build = cu.train.optimizer_for

    def recording(model, lr, weight_decay, dev):
        optimizer = build(model, lr, weight_decay, dev)
        optimizer.register_step_pre_hook(lambda opt, *_: lrs.append(opt.param_groups[0]["lr"]))
        lrs.append(("built", lr, weight_decay))
        return optimizer

    monkeypatch.setattr(cu.train, "optimizer_for", recording)
    return lrs


def test_fit_takes_its_defaults_from_the_recipe(digits, monkeypatch):
    train, test = digits
    parameters = inspect.signature(cu.fit).parameters
    assert parameters["recipe"].default is cu.train.RECIPE
    lrs = _recorded_lrs(monkeypatch)
    shifted = []
    shift = cu.augment.RandomShift.forward
    monkeypatch.setattr(
        cu.augment.RandomShift,
        "forward",
        lambda self, x: shifted.append(self.pixels) or shift(self, x),
    )
    history = cu.fit(cu.LeNet5(), cu.data.subset(train, 40), test, quiet=True)
    assert history.planned_epochs == history.epochs == 15  # the recipe's epochs
    assert len(history.batch_loss) == 15 * 2  # the recipe's batches of 32: 32 + 8
    assert lrs[0] == ("built", 0.002, 0.05) and lrs[1] == 0.002 and len(lrs) == 1 + 30
    assert shifted == [1] * 30  # the recipe's one-pixel shifts, on every batch


def test_fit_trains_as_a_changed_recipe_says_and_its_keywords_change_the_recipe(
    digits, monkeypatch
):
    train, test = digits
    small = cu.data.subset(train, 40)
    seen = []

    def counted(batch):
        seen.append(len(batch))
        return batch

    recipe = dataclasses.replace(
        cu.train.RECIPE, lr=1e-3, weight_decay=0.0, schedule="constant", augment=counted,
        epochs=2, batch_size=8,
    )  # fmt: skip
    lrs = _recorded_lrs(monkeypatch)
    history = cu.fit(cu.LeNet5(), small, test, quiet=True, recipe=recipe)
    assert history.epochs == 2 and len(history.batch_loss) == 2 * 5
    assert seen == [8] * 10  # the recipe's augmentation, on batches of its size
    assert lrs[0] == ("built", 1e-3, 0.0) and lrs[1:] == [1e-3] * 10  # constant
    del lrs[:], seen[:]
    history = cu.fit(cu.LeNet5(), small, test, quiet=True, recipe=recipe, lr=5e-4, augment=None)
    assert lrs[0] == ("built", 5e-4, 0.0) and seen == [] and history.epochs == 2
    with pytest.raises(TypeError, match="recipe must be a cu.train.Recipe"):
        cu.fit(cu.LeNet5(), small, test, quiet=True, recipe={"lr": 1e-3})


@pytest.mark.parametrize("epochs, n, batch_size", [(2, 40, 8), (3, 33, 16)])
def test_the_cosine_schedule_falls_to_zero_over_all_the_steps(
    digits, monkeypatch, epochs, n, batch_size
):
    """lr_t = ½(1 + cos(πt/T))·lr at step t of T = epochs × batches (Loshchilov & Hutter)."""
    train, test = digits
    lrs = _recorded_lrs(monkeypatch)
    cu.fit(cu.LeNet5(), cu.data.subset(train, n), test, epochs=epochs, batch_size=batch_size,
           quiet=True)  # fmt: skip
    steps = epochs * -(-n // batch_size)
    factors = [lr / 0.002 for lr in lrs[1:]]
    assert len(factors) == steps
    for t, factor in enumerate(factors):
        assert abs(factor - 0.5 * (1 + math.cos(math.pi * t / steps))) < 1e-6, (t, factor)
    optimizer = torch.optim.AdamW(cu.LeNet5().parameters(), lr=0.002)
    scheduler = cu.train.scheduler_for(optimizer, "cosine", steps)
    assert isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR)
    for _ in range(steps):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == 0.0  # zero after the last step


def test_train_epoch_is_the_ten_line_loop_of_notebook_01(digits):
    """fit's epoch, against the loop written out: the same weights, to the last bit."""
    train, test = digits
    recipe = cu.train.RECIPE
    x, y = train.images[:96], train.labels[:96]
    cu.seed_everything(0)
    model = cu.LeNet5()
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=2 * 3)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for _ in range(2):
        order = torch.randperm(len(y))
        for i in range(0, len(y), recipe.batch_size):
            idx = order[i : i + recipe.batch_size]
            loss = loss_fn(model(recipe.augment(x[idx])), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    cu.seed_everything(0)
    fitted = cu.LeNet5()
    data = TensorDataset(x, y)
    cu.fit(fitted, data, test, epochs=2, quiet=True, device="cpu")
    torch.testing.assert_close(fitted.state_dict(), model.state_dict(), rtol=0, atol=0)


def test_cached_runs_are_fingerprinted_with_the_recipe(digits, monkeypatch):
    recipe = race._recipe()
    assert recipe["lr"] == 0.002 and recipe["augment"] == "RandomShift(pixels=1)"
    assert recipe["version"] == race.RECIPE_VERSION and "epochs" not in recipe
    train = cu.data.subset(digits[0], 64)
    before = race.run_fingerprint(train, epochs=1, seed=0)
    monkeypatch.setattr(race, "_FINGERPRINTS", {})
    monkeypatch.setattr(cu.train, "RECIPE", dataclasses.replace(cu.train.RECIPE, lr=1e-3))
    assert race._recipe()["lr"] == 0.001
    assert race.run_fingerprint(train, epochs=1, seed=0) != before
