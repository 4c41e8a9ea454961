import torch
from matplotlib.figure import Figure

import course_utils as cu
from course_utils import plots


def test_history_plot_draws_both_panels():
    h = cu.History(
        train_loss=[1.0, 0.5],
        train_accuracy=[0.7, 0.9],
        test_accuracy=[0.8, 0.95],
        batch_loss=[1.2, 0.9, 0.6, 0.4],
    )
    fig = plots.plot_history(h)
    loss_ax, acc_ax = fig.axes
    assert list(acc_ax.lines[1].get_ydata()) == [0.8, 0.95]
    assert "95.00%" in acc_ax.get_title()
    assert len(loss_ax.lines[0].get_ydata()) == 4


def test_confusion_matrix_counts():
    fig = plots.plot_confusion_matrix([0, 0, 1, 2, 2], [0, 1, 1, 2, 2], classes=["a", "b", "c"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == ["1", "1", "1", "2"]
    assert "1 mistakes" in fig.axes[0].get_title()


def test_mistakes_show_the_most_confident_first():
    images = torch.rand(4, 1, 28, 28)
    labels = torch.tensor([0, 1, 2, 3])
    probs = torch.tensor(
        [
            [0.9, 0.1, 0.0, 0.0],  # right
            [0.2, 0.8, 0.0, 0.0],  # right
            [0.6, 0.0, 0.4, 0.0],  # wrong, 60% sure
            [0.0, 0.7, 0.0, 0.3],
        ]
    )  # wrong, 70% sure
    fig = plots.plot_mistakes(images, labels, probs, n=5, classes="abcd")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["true d\nsaid b 70%", "true c\nsaid a 60%"]
    assert "2 most confident of 2 mistakes" in fig.get_suptitle()


def test_feature_maps_one_panel_per_channel():
    fig = plots.plot_feature_maps(torch.rand(6, 24, 24), title="conv")
    assert isinstance(fig, Figure)
    assert sum(1 for ax in fig.axes if ax.images) == 6
