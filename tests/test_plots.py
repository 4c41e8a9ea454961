import numpy as np
import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import course_utils as cu
from course_utils import plots


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
    assert len(fig.axes) == 8  # one row of eight, the unused panels blank
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == 2
    np.testing.assert_array_equal(shown[0], images[3, 0].numpy())  # the 70% mistake first
    np.testing.assert_array_equal(shown[1], images[2, 0].numpy())


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


# What each figure builder draws: its axes, titles, labels, ticks, legend and data.


def _hex(color) -> str:
    from matplotlib.colors import to_hex

    return to_hex(color)


def _ticks(labels) -> list[str]:
    return [t.get_text() for t in labels]


def _legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_history_figure_is_two_empty_panels_that_draw_history_fills():
    empty = cu.plots.history_figure()
    assert len(empty.axes) == 2 and not any(ax.lines for ax in empty.axes)
    h = cu.History(
        train_loss=[1.0, 0.5],
        train_accuracy=[0.7, 0.9],
        test_accuracy=[0.8, 0.95],
        batch_loss=[1.2, 0.9, 0.6, 0.4],
    )
    fig = cu.plots.draw_history(h, empty, epochs=5)
    assert fig is empty  # filled in place, as the live figure is
    loss_ax, acc_ax = fig.axes
    batches, epoch_mean = loss_ax.lines
    assert list(batches.get_xdata()) == [0.5, 1.0, 1.5, 2.0]  # two batches per epoch
    assert list(batches.get_ydata()) == [1.2, 0.9, 0.6, 0.4]
    assert list(epoch_mean.get_xdata()) == [1, 2] and list(epoch_mean.get_ydata()) == [1.0, 0.5]
    train, test = acc_ax.lines
    assert list(train.get_ydata()) == [0.7, 0.9] and list(test.get_ydata()) == [0.8, 0.95]
    assert _legend(loss_ax) == ["per batch", "epoch mean"] and _legend(acc_ax) == ["train", "test"]
    assert (loss_ax.get_title(), loss_ax.get_xlabel(), loss_ax.get_ylabel()) == (
        "training loss", "epoch", "cross-entropy",
    )  # fmt: skip
    assert acc_ax.get_title() == "accuracy (test: last 95.00%, best 95.00%)"
    assert (acc_ax.get_xlabel(), acc_ax.get_ylabel()) == ("epoch", "accuracy")
    assert loss_ax.get_yscale() == "log"
    assert loss_ax.get_xlim() == (0, 5) and acc_ax.get_xlim() == (0.5, 5.5)  # all planned epochs
    assert acc_ax.yaxis.get_major_formatter()(0.9, 0) == "90%"
    # drawn again with more epochs: the old curves are replaced, not stacked
    h.test_accuracy.append(0.9)
    h.train_accuracy.append(0.95)
    h.train_loss.append(0.3)
    cu.plots.draw_history(h, fig)
    assert len(acc_ax.lines) == 2 and list(acc_ax.lines[1].get_ydata()) == [0.8, 0.95, 0.9]
    assert acc_ax.get_title() == "accuracy (test: last 90.00%, best 95.00%)"


def test_confusion_matrix_image_is_the_counts_true_down_predicted_across():
    labels = [0] * 20 + [0, 1, 2, 2]
    predictions = [0] * 20 + [2, 2, 2, 1]  # a 0 taken for a 2, a 1 for a 2, a 2 for a 1
    fig = plots.plot_confusion_matrix(labels, predictions, classes=["a", "b", "c"])
    (ax,) = fig.axes
    counts = np.array([[20, 0, 1], [0, 0, 1], [0, 1, 1]])  # by hand: row true, column predicted
    np.testing.assert_allclose(ax.images[0].get_array(), np.log1p(counts))  # log colours
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in ax.texts}
    written = {cell: t.get_text() for cell, t in cells.items()}
    assert written == {(0, 0): "20", (0, 2): "1", (1, 2): "1", (2, 1): "1", (2, 2): "1"}
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted", "true")
    assert _ticks(ax.get_xticklabels()) == _ticks(ax.get_yticklabels()) == ["a", "b", "c"]
    assert ax.get_title() == "confusion matrix: 3 mistakes, 87.50% right"
    colours = {cell: t.get_color() for cell, t in cells.items()}
    assert colours == {  # mistakes in red, white on the darkest cells
        (0, 0): "white", (0, 2): "#c00000", (1, 2): "#c00000", (2, 1): "#c00000",
        (2, 2): "black",
    }  # fmt: skip


def test_feature_maps_show_each_channel_of_the_first_image_in_order():
    maps = torch.rand(2, 6, 5, 4)
    fig = plots.plot_feature_maps(maps, title="conv", cols=4)
    assert len(fig.axes) == 2 * 4  # six maps, four to a row
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 6
    for k, ax in enumerate(shown):
        np.testing.assert_array_equal(ax.images[0].get_array(), maps[0, k].numpy())
        assert ax.get_title() == str(k)
    assert fig.get_suptitle() == "conv: 6 maps of 5×4"
    assert plots.plot_feature_maps(torch.rand(3, 2, 2)).get_suptitle() == ""


def test_digit_prediction_shows_the_digit_and_one_bar_per_class(digits):
    _, test = digits
    image, label = test.images[0], int(test.labels[0])
    probabilities = torch.full((10,), 0.02)
    wrong = (label + 1) % 10
    probabilities[wrong] = 0.82
    fig = plots.plot_digit_prediction(image, probabilities, label=label)
    img_ax, bar_ax = fig.axes
    np.testing.assert_array_equal(img_ax.images[0].get_array(), image[0].numpy())
    assert img_ax.images[0].get_cmap().name == "gray_r"  # dark ink on white, as on paper
    assert img_ax.get_title() == f"true label {label}"
    heights = [p.get_height() for p in bar_ax.patches]
    np.testing.assert_allclose(heights, probabilities.numpy())
    assert _ticks(bar_ax.get_xticklabels()) == plots.DIGITS
    assert bar_ax.get_ylabel() == "probability" and bar_ax.get_ylim() == (0, 1)
    assert bar_ax.get_title() == f"prediction {wrong} (82.0%)"
    colours = [_hex(p.get_facecolor()) for p in bar_ax.patches]
    assert colours[wrong] == "#d55e00" and colours.count("#bbbbbb") == 9  # the wrong guess
    right = plots.plot_digit_prediction(image, probabilities, label=wrong, classes="abcdefghij")
    assert _hex(right.axes[1].patches[wrong].get_facecolor()) == "#009e73"
    assert right.axes[0].get_title() == f"true label {'abcdefghij'[wrong]}"
    assert _ticks(right.axes[1].get_xticklabels()) == list("abcdefghij")
    assert plots.plot_digit_prediction(image, probabilities).axes[0].get_title() == ""


def test_show_images_one_panel_per_image_grey_or_colour_with_captions(caplog):
    grey = torch.rand(5, 1, 4, 3)
    fig = plots.show_images(grey, labels=["a", "b", "c", "d", "e"], cols=3)
    assert len(fig.axes) == 2 * 3
    for k, ax in enumerate(fig.axes[:5]):
        np.testing.assert_array_equal(ax.images[0].get_array(), grey[k, 0].numpy())
        assert ax.images[0].get_cmap().name == "gray_r" and ax.get_title() == "abcde"[k]
    assert not fig.axes[5].images and not fig.axes[5].axison  # the spare panel stays blank
    colour = torch.linspace(-0.5, 1.5, 2 * 3 * 2 * 2).reshape(2, 3, 2, 2)
    fig = plots.show_images(colour)
    assert len(fig.axes) == 2 and all(ax.get_title() == "" for ax in fig.axes)
    for k, ax in enumerate(fig.axes):  # channels last, clipped to [0, 1]
        expected = colour[k].permute(1, 2, 0).clamp(0, 1).numpy()
        np.testing.assert_array_equal(ax.images[0].get_array(), expected)
    # clipped by the course, quietly: not by matplotlib, which logs a warning under the cell
    assert not [r.getMessage() for r in caplog.records if "Clipping" in r.getMessage()]


def test_augmentation_draws_the_crop_square_on_the_photo_beside_the_crop():
    resized = torch.rand(3, 40, 48)
    result = resized[:, 3:35, 5:37].flip(-1) + 0.1
    fig = plots.plot_augmentation(resized, result, top=3, left=5, size=32)
    src_ax, out_ax = fig.axes
    np.testing.assert_array_equal(src_ax.images[0].get_array(), resized.permute(1, 2, 0).numpy())
    np.testing.assert_array_equal(
        out_ax.images[0].get_array(), result.permute(1, 2, 0).clamp(0, 1).numpy()
    )
    (square,) = src_ax.patches
    assert square.get_xy() == (4.5, 2.5)  # pixel (top 3, left 5)'s corner: x is left, y is top
    assert (square.get_width(), square.get_height()) == (32, 32)
    assert src_ax.get_title() == "the central 40×48 square"
    assert out_ax.get_title() == "the 32×32 training sample"


def test_comparison_draws_train_and_test_accuracy_per_run():
    histories = {
        "plain": cu.History(train_accuracy=[0.5, 0.7, 0.8], test_accuracy=[0.4, 0.6, 0.65]),
        "augmented": cu.History(train_accuracy=[0.4, 0.6, 0.7], test_accuracy=[0.45, 0.62, 0.7]),
    }
    fig = plots.plot_comparison(histories, title="augmentation")
    (ax,) = fig.axes
    assert _legend(ax) == ["plain: train", "plain: test", "augmented: train", "augmented: test"]
    ys = [list(line.get_ydata()) for line in ax.lines]
    assert ys == [[0.5, 0.7, 0.8], [0.4, 0.6, 0.65], [0.4, 0.6, 0.7], [0.45, 0.62, 0.7]]
    assert all(list(line.get_xdata()) == [1, 2, 3] for line in ax.lines)
    assert [line.get_linestyle() for line in ax.lines] == ["--", "-", "--", "-"]  # train dashed
    assert ax.lines[0].get_color() == ax.lines[1].get_color() != ax.lines[2].get_color()
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == (
        "augmentation",
        "epoch",
        "accuracy",
    )
    only_test = plots.plot_comparison(histories, train=False).axes[0]
    assert _legend(only_test) == ["plain: test", "augmented: test"]


def _prediction(*, is_pretrained: bool = True):
    classes = ["cat", "dog", "fox", "owl", "bee"]
    probabilities = torch.tensor([0.1, 0.5, 0.05, 0.3, 0.05])
    return cu.weights.Prediction(
        probabilities, classes, k=3, model_name="net", is_pretrained=is_pretrained
    )


def test_top_predictions_are_bars_best_on_top_with_their_percentages():
    fig = plots.plot_top_predictions(_prediction())
    (ax,) = fig.axes
    assert _ticks(ax.get_yticklabels()) == ["cat", "owl", "dog"]  # bottom to top: best on top
    np.testing.assert_allclose([p.get_width() for p in ax.patches], [0.1, 0.3, 0.5])
    assert [t.get_text() for t in ax.texts] == ["10.0%", "30.0%", "50.0%"]
    assert ax.get_title() == "net: top 3" and ax.get_xlabel() == "probability"
    assert ax.get_xlim() == (0, 1)
    assert {_hex(p.get_facecolor()) for p in ax.patches} == {"#0072b2"}
    assert len(plots.plot_top_predictions(_prediction(), k=2).axes[0].patches) == 2


def test_top_predictions_say_untrained_weights_and_show_the_photo():
    from PIL import Image

    photo = Image.fromarray(np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3))
    fig = plots.plot_top_predictions(_prediction(is_pretrained=False), image=photo)
    photo_ax, ax = fig.axes
    np.testing.assert_array_equal(photo_ax.images[0].get_array(), np.asarray(photo))
    assert photo_ax.get_title() == "6 × 4 pixels"
    assert ax.get_title() == "net: top 3  (UNTRAINED WEIGHTS)"
    assert "untrained weights" in [t.get_text() for t in ax.texts]
    assert {_hex(p.get_facecolor()) for p in ax.patches} == {"#999999"}  # greyed out


def test_layer_bars_show_lenet5s_parameters_and_multiply_adds_per_layer():
    table = cu.layer_table(cu.LeNet5(), (1, 28, 28))
    fig = plots.plot_layer_bars(table)
    top, bottom = fig.axes
    names = ["features.0", "features.3", "classifier.0", "classifier.2", "classifier.4"]
    assert _ticks(bottom.get_xticklabels()) == names  # only the layers with weights
    params = [156, 2_416, 30_840, 10_164, 850]  # the slide's LeNet5: 44,426 in all
    macs = [86_400, 153_600, 30_720, 10_080, 840]  # 6×24×24×25, 16×8×8×150, 256×120, …
    np.testing.assert_allclose([p.get_height() for p in top.patches], np.array(params) / 1e6)
    np.testing.assert_allclose([p.get_height() for p in bottom.patches], np.array(macs) / 1e9)
    assert [t.get_text() for t in top.texts] == ["5%", "69%", "23%"]  # shares above 4%
    assert [t.get_text() for t in bottom.texts] == ["31%", "55%", "11%"]
    assert top.get_title() == "LeNet5: where the parameters and the compute are"
    assert top.get_ylabel() == "parameters (millions)"
    assert bottom.get_ylabel() == "multiply-adds (billions)"
    colours = [_hex(p.get_facecolor()) for p in top.patches]
    assert colours == ["#0072b2"] * 2 + ["#d55e00"] * 3  # the classifier stands out
    assert plots.plot_layer_bars(table, title="mine").axes[0].get_title() == "mine"


def test_class_heatmaps_put_each_output_cell_at_the_centre_of_its_window():
    canvas = torch.rand(1, 40, 44)
    probabilities = torch.rand(3, 4, 5)
    mask = torch.ones(3, 4, 5)
    mask[:, 0, 0] = 0
    fig = plots.plot_class_heatmaps(
        canvas, probabilities, mask, classes=["x", "y", "z"], stride=4, window=28
    )
    assert len(fig.axes) == 1 + 3
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), canvas[0].numpy())
    assert fig.axes[0].get_title() == "the canvas"
    for c, ax in enumerate(fig.axes[1:]):
        assert ax.get_title() == f"class {'xyz'[c]}"
        back, heat = ax.images
        np.testing.assert_array_equal(back.get_array(), canvas[0].numpy())
        shown = heat.get_array()
        expected = (probabilities[c] * mask[c]).numpy()
        np.testing.assert_array_equal(shown.mask, expected < 0.3)  # 30% or more only
        np.testing.assert_allclose(shown.compressed(), expected[expected >= 0.3])
        left, right, bottom, top = heat.get_extent()
        # cell (i, j) is centred on its window's centre: window/2 + stride × (i, j)
        assert (left + (right - left) / 5 / 2, top + (bottom - top) / 4 / 2) == (14, 14)
        assert ((right - left) / 5, (bottom - top) / 4) == (4, 4)
        assert ax.get_xlim() == (0, 44) and ax.get_ylim() == (40, 0)  # the whole canvas


def test_overlay_stretches_the_heatmap_over_the_photo_with_a_colour_bar():
    from PIL import Image

    photo = Image.fromarray(np.arange(30 * 40 * 3, dtype=np.uint8).reshape(30, 40, 3))
    heat = torch.rand(3, 4)
    fig = plots.plot_overlay(photo, heat, title="tabby cat")
    ax, bar = fig.axes
    under, over = ax.images
    np.testing.assert_array_equal(under.get_array(), np.asarray(photo))
    np.testing.assert_array_equal(over.get_array(), heat.numpy())
    assert over.get_extent() == [0, 40, 30, 0]  # the whole photo
    assert over.get_cmap().name == "jet" and ax.get_title() == "tabby cat"
    assert bar.get_ylabel() == "probability"
    assert not ax.texts  # no warning with real weights
    tensor = torch.rand(3, 8, 6) * 2  # a 3×H×W tensor is shown channels last, clipped
    fig = plots.plot_overlay(tensor, heat, untrained=True, expected="the cat lights up")
    ax = fig.axes[0]
    np.testing.assert_array_equal(
        ax.images[0].get_array(), tensor.permute(1, 2, 0).clamp(0, 1).numpy()
    )
    assert ax.images[1].get_extent() == [0, 6, 8, 0]
    assert ax.images[1].get_cmap().name == "gray"  # noise must not look like a finding
    (warning,) = ax.texts
    assert warning.get_text() == (
        "UNTRAINED WEIGHTS: this map is noise\nwith real weights: the cat lights up"
    )


def test_position_map_writes_each_value_in_its_cell():
    values = torch.tensor([[1e-3, 2e-4, 5e-2], [3e-1, 7e-5, 1.0]])
    fig = plots.plot_position_map(values, title="error per position", label="max difference")
    ax, bar = fig.axes
    np.testing.assert_array_equal(ax.images[0].get_array(), values.numpy())
    written = {t.get_position(): t.get_text() for t in ax.texts}
    assert written == {
        (0, 0): "1e-03", (1, 0): "2e-04", (2, 0): "5e-02",
        (0, 1): "3e-01", (1, 1): "7e-05", (2, 1): "1e+00",
    }  # fmt: skip
    assert list(ax.get_xticks()) == [0, 1, 2] and list(ax.get_yticks()) == [0, 1]
    assert ax.get_title() == "error per position" and bar.get_ylabel() == "max difference"


def test_gradient_norms_one_line_per_network_on_a_log_scale():
    norms = {"plain": [1e-4, 1e-2, 1.0], "residual": [0.5, 0.6, 0.7]}
    fig = plots.plot_gradient_norms(norms)
    (ax,) = fig.axes
    assert [list(line.get_xdata()) for line in ax.lines] == [[1, 2, 3]] * 2
    assert [list(line.get_ydata()) for line in ax.lines] == list(norms.values())
    assert _legend(ax) == ["plain", "residual"] and ax.get_yscale() == "log"
    assert ax.get_xlabel() == "layer (1 = next to the input)"
    assert ax.get_ylabel() == "gradient norm of the weights"
    assert ax.get_title() == "gradients at initialisation, one batch of digits"
    with pytest.raises(ValueError, match="at most 6"):
        plots.plot_gradient_norms({str(k): [1.0] for k in range(7)})


def test_bars_first_label_on_top_values_written_and_one_highlighted():
    fig = plots.plot_bars(
        ["AlexNet", "VGG19", "ResNet-50"], [61.1, 143.7, 25.6],
        xlabel="parameters (millions)", title="size", highlight="VGG19",
    )  # fmt: skip
    (ax,) = fig.axes
    assert _ticks(ax.get_yticklabels()) == ["ResNet-50", "VGG19", "AlexNet"]  # bottom to top
    assert [p.get_width() for p in ax.patches] == [25.6, 143.7, 61.1]
    assert [t.get_text() for t in ax.texts] == [" 25.6", " 143.7", " 61.1"]
    assert [t.get_position() for t in ax.texts] == [(25.6, 0), (143.7, 1), (61.1, 2)]
    assert [_hex(p.get_facecolor()) for p in ax.patches] == ["#0072b2", "#d55e00", "#0072b2"]
    assert (ax.get_xlabel(), ax.get_title()) == ("parameters (millions)", "size")


def test_training_curves_are_running_means_of_the_batch_loss():
    losses = [4.0, 2.0, 1.0, 0.5, 0.25, 0.125]  # 3 batches per epoch, 2 epochs
    plain = cu.History(batch_loss=losses, test_accuracy=[0.5, 0.6])
    residual = cu.History(batch_loss=[x / 2 for x in losses], test_accuracy=[0.6, 0.7])
    fig = plots.plot_training_curves({"plain": plain, "residual": residual}, smooth=2, title="t")
    (ax,) = fig.axes
    first, second = ax.lines
    np.testing.assert_allclose(first.get_ydata(), [3.0, 1.5, 0.75, 0.375, 0.1875])
    np.testing.assert_allclose(second.get_ydata(), [1.5, 0.75, 0.375, 0.1875, 0.09375])
    np.testing.assert_allclose(first.get_xdata(), np.arange(2, 7) / 3)  # in epochs
    assert _legend(ax) == ["plain", "residual"] and ax.get_yscale() == "log"
    assert (ax.get_title(), ax.get_xlabel()) == ("t", "epoch")
    assert ax.get_ylabel() == "training loss (cross-entropy)"
    panels = {"18 layers": {"plain": plain}, "34 layers": {"plain": plain, "res": residual}}
    fig = plots.plot_training_curves(panels, smooth=1)
    assert [ax.get_title() for ax in fig.axes] == ["18 layers", "34 layers"]
    assert [len(ax.lines) for ax in fig.axes] == [1, 2]
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), losses)  # smooth=1: raw
    assert fig.axes[0].get_ylabel() == "training loss (cross-entropy)"
    assert fig.axes[1].get_shared_y_axes().joined(fig.axes[0], fig.axes[1])  # one scale


def test_model_zoo_places_each_classifier_at_its_cost_and_accuracy():
    rows = [
        {"name": "alexnet", "family": "AlexNet", "macs": 0.71, "params": 61.1, "top1": 56.5,
         "recipe": "original", "size": 224},
        {"name": "resnet50", "family": "ResNet", "macs": 4.09, "params": 25.6, "top1": 80.9,
         "recipe": "new", "size": 224},
        {"name": "inception_v3", "family": "GoogLeNet", "macs": 5.71, "params": 27.2,
         "top1": 77.3, "recipe": "original", "size": 299},
    ]  # fmt: skip
    fig = plots.plot_model_zoo(rows)
    (ax,) = fig.axes
    points = {c.get_label(): c for c in ax.collections}
    assert set(points) == {"AlexNet", "ResNet", "GoogLeNet"}
    assert [tuple(p) for p in points["ResNet"].get_offsets()] == [(4.09, 80.9)]
    assert list(points["AlexNet"].get_sizes()) == [pytest.approx(61.1 * 4)]  # area: parameters
    assert _hex(points["AlexNet"].get_facecolor()[0]) == plots.FAMILY_COLORS["AlexNet"]
    assert len(points["ResNet"].get_facecolor()) == 0  # the new recipe: hollow
    assert sorted(t.get_text() for t in ax.texts) == ["alexnet", "inception_v3", "resnet50*"]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "ImageNet top-1 accuracy (%)"
    assert ax.get_xlabel().endswith("224×224 images; inception_v3 at 299×299")
    assert _legend(ax) == ["AlexNet", "ResNet", "GoogLeNet"]  # by cost, cheapest first


def test_cams_show_each_digit_under_its_own_map(digits):
    _, test = digits
    maps = {"NiN": torch.rand(2, 28, 28), "ResNet": torch.rand(2, 28, 28)}
    guesses = {"NiN": torch.tensor([7, 2]), "ResNet": torch.tensor([7, 1])}
    fig = cu.plots.plot_cams(test.images[:2], maps, guesses, [7, 1], classes=plots.DIGITS)
    assert len(fig.axes) == 2 * 2  # a row per network, a column per image
    for row, name in enumerate(maps):
        assert fig.axes[2 * row].get_ylabel() == name
        for i in range(2):
            digit, cam = fig.axes[2 * row + i].images
            np.testing.assert_array_equal(digit.get_array(), test.images[i].mean(0).numpy())
            assert digit.get_cmap().name == "gray_r"
            np.testing.assert_array_equal(cam.get_array(), maps[name][i].numpy())
            assert cam.get_cmap().name == "jet" and cam.get_alpha() == 0.5
    assert [ax.get_title() for ax in fig.axes] == ["says 7", "says 2 (is 1)", "says 7", "says 1"]
    assert fig.get_suptitle().startswith("Class activation maps")


def test_family_view_draws_the_image_its_probabilities_and_its_last_maps(digits):
    _, test = digits
    image, label = test.images[3], int(test.labels[3])
    probabilities = torch.full((10,), 0.01)
    probabilities[label] = 0.91
    maps, cam = torch.rand(32, 7, 7), torch.rand(28, 28)
    fig = cu.plots.plot_family_view(
        image, probabilities, maps, cam=cam, label=label, name="ResNet", count=8
    )
    image_ax, bars, *panels = fig.axes
    digit, overlay = image_ax.images
    np.testing.assert_array_equal(digit.get_array(), image.mean(0).numpy())
    np.testing.assert_array_equal(overlay.get_array(), cam.numpy())
    assert image_ax.get_title() == f"where ResNet sees a {label}"
    np.testing.assert_allclose([p.get_height() for p in bars.patches], probabilities.numpy())
    assert _ticks(bars.get_xticklabels()) == plots.DIGITS
    assert bars.get_ylabel() == "probability" and bars.get_ylim() == (0, 1)
    assert bars.get_title() == f"says {label} (91%); true: {label}"
    assert _hex(bars.patches[label].get_facecolor()) == "#009e73"  # right: green
    assert len(panels) == 8
    for k, ax in enumerate(panels):  # the first eight of the 32 maps, in order
        np.testing.assert_array_equal(ax.images[0].get_array(), maps[k].numpy())
        assert ax.get_title() == str(k)
    assert [t.get_text() for t in fig.texts] == ["last convolution: 32 maps of 7×7"]
    wrong = (label + 1) % 10
    no_gap = cu.plots.plot_family_view(
        image, probabilities, maps[:3], cam=None, label=wrong, name="VGG"
    )
    assert len(no_gap.axes[0].images) == 1  # the digit alone
    assert no_gap.axes[0].get_title() == "VGG: no GAP head, no CAM"
    assert _hex(no_gap.axes[1].patches[label].get_facecolor()) == "#d55e00"  # wrong: orange
    assert no_gap.axes[1].get_title() == f"says {label} (91%); true: {wrong}"
    assert len(no_gap.axes) == 2 + 3  # only the maps there are
