import torch

import course_utils as cu


def test_digit_explorer_follows_the_picker(digits):
    _, test = digits
    cu.seed_everything(0)
    model = cu.LeNet5().eval()
    explorer = cu.widgets.digit_explorer(model, test)
    assert "digit 0" in explorer.summary.value
    explorer.picker.value = 17
    label = int(test.labels[17])
    assert f"digit 17</b>: true label <b>{label}</b>" in explorer.summary.value
    expected = torch.softmax(model(test.images[17:18]), 1)[0].detach()
    torch.testing.assert_close(explorer.probabilities, expected)
    assert explorer.feature_maps["features.0"].shape == (6, 24, 24)
    assert explorer.feature_maps["features.3"].shape == (16, 8, 8)
    assert explorer.slider.max == len(test) - 1


def test_next_steps_through_mistakes_only(digits):
    _, test = digits
    cu.seed_everything(0)
    model = cu.LeNet5().eval()  # untrained: most digits are mistakes, some are not
    explorer = cu.widgets.DigitExplorer(model, test)
    explorer.mistakes_only.value = True
    for _ in range(3):
        explorer.next_button.click()
        i = explorer.picker.value
        assert int(explorer.probabilities.argmax()) != int(test.labels[i])
        assert "wrong" in explorer.summary.value
    explorer.mistakes_only.value = False
    before = explorer.picker.value
    explorer.next_button.click()
    assert explorer.picker.value == before + 1
