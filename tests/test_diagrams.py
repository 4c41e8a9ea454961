"""The lecture's diagrams: a Figure each, the key numbers in their text, no text overlapping."""

import itertools

import matplotlib.pyplot as plt
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from course_utils import blocks, diagrams, plots

DIAGRAMS = {
    "linear_as_convolution": diagrams.linear_as_convolution,
    "offset_max_pooling": diagrams.offset_max_pooling,
    "mlpconv": diagrams.mlpconv_diagram,
    "inception_naive": lambda: diagrams.inception_module(reduced=False),
    "inception_reduced": lambda: diagrams.inception_module(reduced=True),
    "googlenet_outline": diagrams.googlenet_outline,
    "residual_blocks": diagrams.residual_blocks,
    "resnext_block": diagrams.resnext_block,
}
INCEPTIONS = [name for name, cfg in blocks.GOOGLENET_CFG.items() if cfg is not None]


def _drawn(fig: Figure) -> Figure:
    """`fig` rendered on an Agg canvas (pyplot has let go of it), so that extents are final."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig


def _texts(fig: Figure) -> list:
    """Every visible, non-empty Text artist in the figure's axes and on the figure itself."""
    texts = [t for ax in fig.axes for t in ax.texts] + list(fig.texts)
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def _strings(fig: Figure) -> str:
    return "\n".join(t.get_text() for t in _texts(fig))


def _overlaps(fig: Figure) -> list[tuple[str, str]]:
    """Pairs of texts whose rendered bounding boxes intersect."""
    renderer = _drawn(fig).canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(fig)]
    return [(a, b) for (a, ba), (b, bb) in itertools.combinations(boxes, 2) if ba.overlaps(bb)]


@pytest.fixture(scope="module", params=list(DIAGRAMS))
def figure(request) -> Figure:
    return DIAGRAMS[request.param]()


def test_each_diagram_is_a_figure_with_axes(figure):
    assert isinstance(figure, Figure)
    assert figure.axes
    assert figure.get_figwidth() <= 10.5  # readable at notebook width
    assert _texts(figure)


def test_every_text_is_readable_where_the_notebook_shows_it(figure):
    assert plots.small_texts(_drawn(figure)) == []


def test_no_two_labels_overlap(figure):
    assert _overlaps(figure) == []


def test_every_label_lies_inside_the_figure(figure):
    renderer = _drawn(figure).canvas.get_renderer()
    page = figure.bbox
    for t in _texts(figure):
        box = t.get_window_extent(renderer)
        inside = page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
        assert inside, f"{t.get_text()!r} is clipped: {box} outside {page}"


def test_text_in_a_box_fits_inside_it(figure):
    renderer = _drawn(figure).canvas.get_renderer()
    for ax in figure.axes:
        shapes = [p.get_window_extent(renderer) for p in ax.patches]
        shapes = [
            b for p, b in zip(ax.patches, shapes, strict=True) if isinstance(p, FancyBboxPatch)
        ]
        for t in _texts(figure):
            box = t.get_window_extent(renderer)
            cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
            for shape in shapes:
                if shape.contains(cx, cy):
                    assert (shape.x0 <= box.x0 and box.x1 <= shape.x1) and (
                        shape.y0 <= box.y0 and box.y1 <= shape.y1
                    ), t.get_text()


def test_saves_as_png(figure, tmp_path):
    path = tmp_path / "diagram.png"
    figure.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_overlap_check_can_fail():
    fig = plt.figure(figsize=(3, 2))
    plt.close(fig)
    ax = fig.add_subplot()
    ax.text(0.5, 0.5, "one label")
    ax.text(0.52, 0.5, "another label")
    ax.text(0.1, 0.1, "")  # empty strings are ignored
    assert _overlaps(fig) == [("one label", "another label")]


def test_inception_widths_from_the_config():
    naive = _strings(diagrams.inception_module(reduced=False))
    reduced = _strings(diagrams.inception_module(reduced=True))
    assert "= 416" in naive and "192 → 128" in naive
    assert "= 256" in reduced and "96 → 128" in reduced and "16 → 32" in reduced
    assert "192 → 32" in reduced  # the pooling branch's projection
    assert "163,696 parameters" in reduced and "387,296 parameters" in naive


def test_googlenet_outline_names_every_inception_module():
    texts = _strings(diagrams.googlenet_outline())
    for name in INCEPTIONS:
        assert name in texts
    assert "1024 maps" in texts  # inception5b's width, summed from its config
    assert texts.count("auxiliary") >= 2


def test_residual_blocks_count_parameters():
    texts = _strings(diagrams.residual_blocks())
    assert "73,856 parameters" in texts and "69,696 parameters" in texts
    assert "256, 1×1, 64" in texts and "64, 1×1, 256" in texts
    # the slide's comparison: a basic block on the bottleneck's 256 channels
    assert "1,180,160 parameters" in texts and texts.count("256, 3×3, 256") == 2
    assert texts.count("590,080") == 2  # each of its two 3×3 convolutions, with its bias


def test_resnext_block_labels():
    texts = _strings(diagrams.resnext_block())
    assert texts.count("70,144 parameters") == 2  # the explicit paths and the grouped form
    assert "32 paths" in texts and "32 groups" in texts
    assert "256, 1×1, 4" in texts and "128, 1×1, 256" in texts


def test_resnext_block_follows_its_arguments():
    texts = _strings(diagrams.resnext_block(cardinality=8, width=16, shown=2))
    assert "8 paths" in texts and "8 groups" in texts and "256, 1×1, 16" in texts
    everything = _strings(diagrams.resnext_block(cardinality=3, width=4, shown=5))
    assert "paths\nin all" not in everything  # all three paths drawn: no ellipsis


def test_linear_as_convolution_follows_its_arguments():
    texts = _strings(diagrams.linear_as_convolution(channels=16, height=5, width=5, outputs=120))
    assert "16×5×5" in texts and "120×1×1" in texts and "400" in texts
    assert "120×5×5" in texts  # the larger map's output


def test_offset_pooling_interleaves_every_window():
    fig = diagrams.offset_max_pooling(size=9, kernel=3)
    texts = _strings(fig)
    assert "Δ = 0" in texts and "Δ = 2" in texts and "7 outputs" in texts
    wider = _strings(diagrams.offset_max_pooling(size=12, kernel=2))
    assert "Δ = 1" in wider and "Δ = 2" not in wider and "11 outputs" in wider


def _in_reading_order(fig: Figure) -> list[str]:
    """The texts of a diagram, left to right (then top to bottom at the same x)."""
    texts = _texts(fig)
    return [
        t.get_text()
        for t in sorted(texts, key=lambda t: (t.get_position()[0], -t.get_position()[1]))
    ]


def _boxes(fig: Figure) -> list[FancyBboxPatch]:
    return [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]


def test_mlpconv_sets_one_linear_unit_beside_a_small_mlp_of_1x1_layers():
    from matplotlib.patches import Circle

    fig = diagrams.mlpconv_diagram()
    (ax,) = fig.axes
    texts = _strings(fig)
    assert texts.startswith("Linear convolution against MLP convolution (Lin et al. 2014)")
    assert "(a) linear convolution" in texts and "(b) mlpconv" in texts
    assert texts.count("input, a k×k patch") == 2 and texts.count("output") == 2
    neurons = sorted(p.center for p in ax.patches if isinstance(p, Circle))
    assert len(neurons) == 1 + 3 * 3  # one linear unit; an MLP of three layers of three
    layers = sorted({x for x, _ in neurons})
    assert len(layers) == 4
    # each layer of the MLP is labelled with its kernel: k×k first, then 1×1 convolutions
    above = {
        round(t.get_position()[0], 2): t.get_text()
        for t in ax.texts
        if t.get_text() in ("k×k", "1×1")
    }
    assert [above[round(x, 2)] for x in layers] == ["k×k", "k×k", "1×1", "1×1"]
    assert "then 1×1 convolutions" in texts and "generalized\nlinear model" in texts


def test_linear_as_convolution_on_the_slides_alexnet_numbers():
    texts = _strings(diagrams.linear_as_convolution())  # fc6 of AlexNet and VGG
    assert texts.startswith("A linear layer on a 256×6×6 map is a 6×6 convolution")
    assert "9,216\nvalues" in texts and "4096\noutputs" in texts
    assert "weights: 4096 × 9,216 = 37,748,736" in texts  # 4096 · 256 · 6 · 6
    assert "(b) the same weights as 4096 filters of 256×6×6" in texts and "4096×1×1" in texts
    assert "256×10×10" in texts and "4096×5×5" in texts  # 5 × 5 windows of 6 × 6 on 10 × 10


def test_inception_branches_left_to_right_as_in_the_paper():
    naive = diagrams.inception_module(reduced=False)
    reduced = diagrams.inception_module(reduced=True)
    assert len(_boxes(naive)) == 1 + 4 + 1  # input, four branches, concatenation
    assert len(_boxes(reduced)) == 1 + 3 + 4 + 1  # and the three 1×1 reductions
    branches = [t for t in _in_reading_order(naive) if "\n" in t]
    assert branches == ["1×1 conv\n192 → 64", "3×3 conv\n192 → 128", "5×5 conv\n192 → 32",
                        "3×3 max-pool\n192 → 192"]  # fmt: skip
    branches = [t for t in _in_reading_order(reduced) if "\n" in t]
    assert branches == [
        "1×1 conv\n192 → 64",
        "3×3 conv\n96 → 128", "1×1 conv\n192 → 96",  # top to bottom: the reduction below
        "5×5 conv\n16 → 32", "1×1 conv\n192 → 16",
        "1×1 conv\n192 → 32", "3×3 max-pool\n192 → 192",  # pooling, then its projection
    ]  # fmt: skip
    assert "previous layer: 192 maps of 28×28" in _strings(reduced)
    assert "64 + 128 + 32 + 32 = 256 maps of 28×28" in _strings(reduced)


def test_googlenet_outline_draws_the_layers_in_order_with_table_1s_widths():
    fig = diagrams.googlenet_outline()
    layers = [
        t for t in _in_reading_order(fig) if "\n" in t and not t.startswith(("auxiliary", "dashed"))
    ]
    widths = {
        "3a": 256,
        "3b": 480,
        "4a": 512,
        "4b": 512,
        "4c": 512,
        "4d": 528,
        "4e": 832,
        "5a": 832,
        "5b": 1024,
    }  # Szegedy et al. 2015, table 1, "depth" of the output
    expected = (
        ["conv1\n7×7/2, 64", "maxpool1\n3×3/2", "conv2\n1×1, 64", "conv3\n3×3, 192",
         "maxpool2\n3×3/2"]
        + [f"inception{k}\n{widths[k]} maps" for k in ("3a", "3b")]
        + ["maxpool3\nstride 2"]
        + [f"inception{k}\n{widths[k]} maps" for k in ("4a", "4b", "4c", "4d", "4e")]
        + ["maxpool4\nstride 2"]
        + [f"inception{k}\n{widths[k]} maps" for k in ("5a", "5b")]
        + ["avgpool\nglobal", "dropout\n40%", "fc\n1024 → 1000", "softmax\n1000 classes"]
    )  # fmt: skip
    assert layers == expected
    x = {t.get_text().split("\n")[0]: t.get_position()[0] for t in _texts(fig)}
    aux = sorted(
        (t.get_position()[0], t.get_text()) for t in _texts(fig) if "auxiliary\n" in t.get_text()
    )
    assert [(round(a, 6), s) for a, s in aux] == [
        (round(x["inception4a"], 6), "auxiliary\nclassifier 1"),
        (round(x["inception4d"], 6), "auxiliary\nclassifier 2"),
    ]  # the two auxiliary heads hang below 4a and 4d


def test_residual_blocks_three_stacks_each_with_its_shortcut():
    from matplotlib.patches import Circle

    fig = diagrams.residual_blocks()
    (ax,) = fig.axes
    assert sum(isinstance(p, Circle) for p in ax.patches) == 3  # one ⊕ per block
    assert len(_boxes(fig)) == 2 + 2 + 3  # the convolutions
    texts = _strings(fig)
    assert texts.count("identity") == 3
    assert "64-d in" in texts and texts.count("256-d in") == 2 and texts.count("256-d out") == 2
    bottleneck = [
        t for t in _in_reading_order(fig) if t in ("256, 1×1, 64", "64, 3×3, 64", "64, 1×1, 256")
    ]
    assert bottleneck[-3:] == ["256, 1×1, 64", "64, 3×3, 64", "64, 1×1, 256"]  # top to bottom


def test_resnext_block_draws_the_paths_it_is_asked_to_show():
    from matplotlib.patches import Circle

    for shown in (1, 3):
        fig = diagrams.resnext_block(cardinality=32, width=4, shown=shown)
        texts = _strings(fig)
        assert texts.count("256, 1×1, 4") == shown and texts.count("4, 3×3, 4") == shown
        assert len(_boxes(fig)) == 3 * shown + 3  # the drawn paths, then the grouped block
        assert sum(isinstance(p, Circle) for p in fig.axes[0].patches) == 2  # ⊕ in (a) and (c)
        assert "128, 3×3, 128, 32 groups" in texts
    assert "ResNeXt block, 32×4d (Xie et al. 2017, fig. 3)" in texts
