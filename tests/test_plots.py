import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
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


def _race_rows():
    return [
        {"name": "LeNet5", "family": "LeNet5", "macs": 0.28, "params": 44.4, "top1": 96.4},
        {"name": "ResNet", "family": "ResNet", "macs": 3.75, "params": 47.3, "top1": 97.0},
        {"name": "NiN", "family": "NiN", "macs": 3.65, "params": 21.5, "top1": 93.4},
    ]


def test_race_chart_beside_imagenet_in_the_same_family_colours():
    from matplotlib.colors import to_hex

    fig = cu.plots.plot_race(_race_rows(), cu.weights.zoo(), data="digits")
    mine, imagenet = fig.axes[:2]
    assert len(mine.collections) == 3 and len(imagenet.collections) == len(cu.weights.zoo())
    points = {c.get_label(): c for c in mine.collections}
    assert [tuple(p) for p in points["ResNet"].get_offsets()] == [(3.75, 97.0)]
    assert mine.get_xscale() == "log" and "digits" in mine.get_title()
    resnet = next(c for c in imagenet.collections if c.get_label() == "ResNet")
    colour = to_hex(points["ResNet"].get_facecolor()[0])
    assert colour == to_hex(resnet.get_edgecolor()[0]) == cu.plots.FAMILY_COLORS["ResNet"]
    sizes = {name: c.get_sizes()[0] for name, c in points.items()}
    assert sizes["ResNet"] == 900 and sizes["NiN"] < sizes["LeNet5"]  # area: parameters
    assert sorted(t.get_text() for t in mine.texts) == ["LeNet5 (44k)", "NiN (22k)", "ResNet (47k)"]
    alone = cu.plots.plot_race(_race_rows())
    assert len(alone.axes) == 1
    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    for ax in (mine, imagenet):  # every label readable: none on another, none cut off
        for label in ax.texts:
            label.update_positions(renderer)
        boxes = [Text.get_window_extent(label, renderer) for label in ax.texts]
        assert not any(a.overlaps(b) for k, a in enumerate(boxes) for b in boxes[k + 1 :])
        assert all(fig.bbox.contains(b.x0, b.y0) and fig.bbox.contains(b.x1, b.y1) for b in boxes)
    # and large enough to read where JupyterLab shows the chart (8 pt and more)
    assert cu.plots.small_texts(fig) == []


def test_first_filters_one_row_per_network_each_filter_on_its_own_scale():
    nets = {"LeNet5": cu.LeNet5(), "VGG": cu.nets.build("VGG")}
    fig = cu.plots.plot_first_filters(nets, count=8)
    assert len(fig.axes) == 2 * 8
    first = fig.axes[0].images[0].get_array()
    assert first.shape == (5, 5) and first.min() == 0 and abs(first.max() - 1) < 1e-6
    assert fig.axes[0].get_ylabel() == "LeNet5\n5×5" and fig.axes[8].get_ylabel() == "VGG\n3×3"
    assert len(fig.axes[7].images) == 0  # LeNet5 has only 6 filters


def test_cams_are_drawn_over_their_digits_with_mistakes_in_red(digits):
    _, test = digits
    maps = {"NiN": torch.rand(3, 28, 28)}
    fig = cu.plots.plot_cams(test.images[:3], maps, {"NiN": torch.tensor([7, 2, 1])}, [7, 1, 1])
    titles = [(a.get_title(), a.title.get_color()) for a in fig.axes]
    assert titles[0] == ("says 7", "#007a4d") and titles[1] == ("says 2 (is 1)", "#c00000")
    assert all(len(a.images) == 2 for a in fig.axes)  # the digit, then its map


def test_family_view_and_many_runs_compared():
    probabilities = torch.softmax(torch.randn(10), 0)
    fig = cu.plots.plot_family_view(
        torch.rand(1, 28, 28), probabilities, torch.rand(32, 7, 7), cam=torch.rand(28, 28),
        label=3, name="ResNet",
    )  # fmt: skip
    assert len(fig.axes) == 2 + 8 and "where ResNet sees" in fig.axes[0].get_title()
    histories = {
        name: cu.History(train_accuracy=[0.5, 0.6], test_accuracy=[0.4, 0.7])
        for name in cu.nets.FAMILIES
    }
    fig = cu.plots.plot_comparison(histories)
    lines = fig.axes[0].lines
    assert len(lines) == len(cu.nets.FAMILIES) == 9  # test accuracy only, for > 4 runs
    assert lines[5].get_color() == cu.plots.FAMILY_COLORS["ResNet"]
    assert lines[8].get_color() == cu.plots.FAMILY_COLORS["DenseNet"]
    colours = [cu.plots.FAMILY_COLORS[name] for name in cu.nets.FAMILIES]
    assert len(set(colours)) == len(colours)  # every family its own colour


def test_branch_shares_one_panel_per_module_one_bar_per_branch_and_condition():
    shares = {
        "at initialisation": {
            "a": torch.tensor([0.25] * 4),
            "b": torch.tensor([0.1, 0.2, 0.3, 0.4]),
        },
        "after training": {
            "a": torch.tensor([0.1, 0.6, 0.2, 0.1]),
            "b": torch.tensor([1.0, 0, 0, 0]),
        },
    }
    fig = plots.plot_branch_shares(shares)
    assert [ax.get_title() for ax in fig.axes] == ["a", "b"]
    heights = [[round(p.get_height(), 6) for p in ax.patches] for ax in fig.axes]
    assert heights == [[0.25] * 4 + [0.1, 0.6, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4, 1.0, 0, 0, 0]]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1×1", "3×3", "5×5", "pool"]


def _visible_labels(ax) -> list[str]:
    lo, hi = ax.get_ylim()
    return [
        label.get_text()
        for minor in (False, True)
        for loc, label in zip(
            ax.get_yticks(minor=minor), ax.get_yticklabels(minor=minor), strict=True
        )
        if lo <= loc <= hi and label.get_text()
    ]


def test_the_live_loss_axis_reads_as_plain_numbers_from_the_first_batches_on():
    from course_utils.train import History

    first_batches = History(batch_loss=[2.31, 2.30, 2.28, 2.25, 2.2, 2.1])
    later = History(
        batch_loss=[2.3, 1.0, 0.3, 0.1, 0.05, 0.02],
        train_loss=[0.5, 0.05],
        train_accuracy=[0.8, 0.99],
        test_accuracy=[0.8, 0.97],
    )
    for history in (first_batches, later):
        fig = cu.plots.draw_history(history, epochs=3)
        fig.canvas.draw()
        labels = _visible_labels(fig.axes[0])
        assert len(labels) >= 2, labels  # never one lone label, or none
        assert all(float(t) > 0 for t in labels), labels  # 2.2, 0.1: no 10^-1 or 2×10^0
        if history is first_batches:
            assert "2.2" in labels, labels


def test_text_sizes_follow_the_font_the_dpi_and_the_shrinking_to_the_display_width():
    fig = Figure(figsize=(4, 3), layout="constrained")  # not the course's: that raises texts
    fig.set_dpi(100)
    ax = fig.subplots()
    ax.set_title("title", fontsize=12)
    ax.text(0.5, 0.5, "tiny", fontsize=6)
    sizes = dict(cu.plots.text_sizes(fig, width_px=10_000))  # narrow: shown at its own size
    assert sizes["title"] == pytest.approx(12 * 100 / 96)  # pt at 100 dpi, seen at 96 px/inch
    assert sizes["tiny"] == pytest.approx(6 * 100 / 96)
    assert [t for t, _ in cu.plots.small_texts(fig, width_px=10_000)] == ["tiny"]
    # 2,000 pixels and more, shrunk into 900: 12 pt becomes <6
    wide = Figure(figsize=(20, 3), layout="constrained")
    wide.set_dpi(100)
    wide.subplots().set_title("title", fontsize=12)
    shrunk = dict(cu.plots.text_sizes(wide, width_px=900))["title"]
    assert shrunk < 12 * 100 / 96 * 900 / 2000 * 1.01
    assert "title" in dict(cu.plots.small_texts(wide, width_px=900))


def test_the_png_formatter_reports_small_texts_only_when_asked(monkeypatch):
    fig = Figure(figsize=(4, 3))
    fig.subplots().text(0.5, 0.5, "tiny", fontsize=5)
    monkeypatch.delenv("COURSE_FIGURE_AUDIT", raising=False)
    assert isinstance(cu.plots._png_with_text_sizes(fig), bytes)
    monkeypatch.setenv("COURSE_FIGURE_AUDIT", "1")
    png, metadata = cu.plots._png_with_text_sizes(fig)
    assert png.startswith(b"\x89PNG") and [t for t, _ in metadata["course_small_texts"]] == ["tiny"]


def test_course_figures_raise_every_small_text_to_8_pt_where_shown():
    """A 16-inch figure is shrunk to about half in the notebook: its 10-pt ticks, a 6-pt
    note, its legend and its title would all show below 8 pt without the course's layout."""
    fig = cu.plots._figure(16, 3)
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend()
    ax.set(title="title", xlabel="x")
    ax.text(0.5, 0.5, "a note", fontsize=6)
    assert cu.plots.small_texts(Figure(figsize=(16, 3))) == []  # nothing drawn: nothing small
    FigureCanvasAgg(fig).draw()
    assert cu.plots.small_texts(fig) == []
    shown = dict(cu.plots.text_sizes(fig))
    assert min(shown.values()) >= 8.0 and shown["a note"] < 8.5  # raised to 8, not beyond
    before = Figure(figsize=(16, 3))  # the same figure, without the course's layout engine
    before_ax = before.subplots()
    before_ax.set(title="title", xlabel="x")
    before_ax.text(0.5, 0.5, "a note", fontsize=6)
    assert {"x", "a note", "0.0"} <= {t for t, _ in cu.plots.small_texts(before)}


def test_a_hand_placed_course_figure_keeps_its_positions_and_still_raises_texts():
    fig = cu.plots._figure(16, 3, constrained=False)
    ax = fig.add_axes((0.1, 0.1, 0.8, 0.8))
    ax.text(0.5, 0.5, "a note", fontsize=6)
    FigureCanvasAgg(fig).draw()
    assert ax.get_position().bounds == pytest.approx((0.1, 0.1, 0.8, 0.8))
    assert cu.plots.small_texts(fig) == []
