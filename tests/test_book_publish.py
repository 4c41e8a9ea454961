"""Publishing the book: the check that refuses a book with untrained weights or missing pages
(book/publish.py), and the GitHub Actions workflows that run it and the README's commands.

The builds here are small and made up, but their HTML has the structure of the real tools'
(myst-nb's cell_input and cell_output, nbconvert's jp-InputArea); two tests run the real
exporters on one notebook to keep that true.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from book import publish

ROOT = Path(__file__).resolve().parents[1]
NAMES = publish.expected_notebooks()

# What the course prints when the weights are missing: course_utils/weights.py, plots.py and
# widgets.py, and notebook 03's own print.
WARNING = (
    "UserWarning: No pretrained weights for vgg19: it is not cached and there is no network. "
    "Using UNTRAINED (random) weights: its predictions mean nothing."
)
BANNER = "vgg19 (UNTRAINED WEIGHTS: these scores mean nothing)\n  0.0011  tabby"
WIDGET = (
    "cat.jpg through vgg19. <b style='color:#c00000'>untrained weights: no pretrained weights "
    "are cached, so these scores mean nothing</b>"
)
# Code and prose that name the warning without showing it, as the notebooks do.
CODE = 'print("" if vgg.is_pretrained else "UNTRAINED WEIGHTS: these scores mean nothing")'
PROSE = "every prediction below then says <strong>untrained weights</strong>: run the pack"


def _notebook(*outputs: dict, source: str = CODE, count: int | None = 1) -> dict:
    """An executed notebook: a markdown cell, then one code cell with `outputs`."""
    return {
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": [PROSE]},
            {
                "cell_type": "code",
                "execution_count": count,
                "metadata": {},
                "outputs": list(outputs),
                "source": [source],
            },
        ],
        "metadata": {
            "widgets": {
                "application/vnd.jupyter.widget-state+json": {
                    "state": {"m1": {"state": {"value": "cat.jpg through vgg19."}}},
                    "version_major": 2,
                    "version_minor": 0,
                }
            }
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": [text]}


def _page(output: str = "top 5: tabby, tiger cat") -> str:
    """A notebook's page as myst-nb writes it: prose, a cell whose code (nested divs) holds the
    phrase, and its output."""
    return f"""<html><head><title>03</title></head><body><main>
<p>{PROSE}</p>
<div class="cell docutils container">
<div class="cell_input docutils container">
<div class="highlight-ipython3 notranslate"><div class="highlight"><pre><span></span>{CODE}
</pre></div>
</div>
</div>
<div class="cell_output docutils container">
<div class="output stream highlight-myst-ansi notranslate"><div class="highlight"><pre>{output}
</pre></div></div>
</div>
</div>
<img alt="a bar chart of the top 5" src="data:image/png;base64,iVBORw0KGgo="/>
</main></body></html>"""


def _deck(output: str = "top 5: tabby") -> str:
    """A slide deck as nbconvert's reveal template writes it."""
    return f"""<html><body><div class="reveal"><div class="slides"><section>
<div class="jp-Cell jp-CodeCell"><div class="jp-Cell-inputWrapper">
<div class="jp-InputArea jp-Cell-inputArea"><div class="jp-InputPrompt">In [1]:</div>
<div class="jp-CodeMirrorEditor"><div class="cm-editor"><div class="highlight hl-ipython3">
<pre>{CODE}</pre></div></div></div></div></div>
<div class="jp-OutputArea"><div class="jp-RenderedText"><pre>{output}</pre></div></div>
</div></section></div></div></body></html>"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def build(tmp_path) -> Path:
    """A complete build of the course's notebooks in which nothing says untrained weights,
    although the code and the prose name the warning."""
    root = tmp_path / "_build"
    for name in NAMES:
        _write(root / "executed" / f"{name}.ipynb", json.dumps(_notebook(_stream("top 5\n"))))
        _write(root / "html" / "notebooks" / f"{name}.html", _page())
        _write(root / "html" / "slides" / f"{name}.slides.html", _deck())
        student = _notebook(count=None)
        _write(root / "html" / "student" / f"{name}.ipynb", json.dumps(student))
    _write(root / "html" / "index.html", "<html><body><h1>Networks</h1></body></html>")
    _write(root / "html" / "search.html", "<html><body>Search</body></html>")
    return root


def _set_outputs(build: Path, name: str, *outputs: dict) -> None:
    _write(build / "executed" / f"{name}.ipynb", json.dumps(_notebook(*outputs)))


def test_the_course_has_nine_notebooks_and_the_check_expects_them():
    assert len(NAMES) == 9 and NAMES[0] == "01_lenet_mnist"
    assert NAMES == sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))


def test_a_complete_book_without_untrained_weights_may_be_published(build, capsys):
    assert publish.incomplete(build) == []
    assert publish.untrained(build) == []  # the code and the prose that name it don't count
    assert publish.main([str(build)]) == 0
    out = capsys.readouterr().out
    assert "Publishable: 9 notebooks, 20 HTML files" in out


@pytest.mark.parametrize(
    "output, where",
    [
        (_stream(WARNING, "stderr"), "stderr"),  # cu.pretrained's warning
        (_stream("UNTRAINED WEIGHTS: run the course pack for real answers\n"), "stdout"),
        (
            {
                "output_type": "execute_result",
                "execution_count": 1,
                "metadata": {},
                "data": {"text/plain": BANNER},
            },
            "text/plain",
        ),
        (
            {"output_type": "display_data", "metadata": {}, "data": {"text/html": WIDGET}},
            "text/html",
        ),
        (
            {
                "output_type": "display_data",
                "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
                "metadata": {"image/png": {"alt": "vgg19: top 10 (UNTRAINED WEIGHTS)"}},
            },
            "metadata",
        ),
    ],
)
def test_untrained_weights_in_a_notebooks_outputs_refuse_the_book(build, capsys, output, where):
    _set_outputs(build, "03_vgg_pretrained", _stream("top 5\n"), output)
    found = publish.untrained(build)
    assert len(found) == 1, found
    assert found[0].startswith(f"executed/03_vgg_pretrained.ipynb: cell 2 ({where}): ")
    assert re.search("untrained", found[0], re.I)
    assert publish.main([str(build)]) == 1
    err = capsys.readouterr().err
    assert found[0] in err and "Not publishable: untrained weights in 1 places" in err


def test_untrained_weights_in_the_widget_state_refuse_the_book(build):
    path = build / "executed" / "09_every_family_trained.ipynb"
    notebook = json.loads(path.read_text(encoding="utf-8"))
    state = notebook["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]
    state["state"]["m1"]["state"]["value"] = WIDGET
    path.write_text(json.dumps(notebook), encoding="utf-8")
    (found,) = publish.untrained(build)
    assert found.startswith("executed/09_every_family_trained.ipynb: widget state: ")


@pytest.mark.parametrize(
    "page, text",
    [
        ("notebooks/03_vgg_pretrained.html", _page(WARNING)),  # an output after the code
        ("notebooks/04_convolutionization.html", _page().replace("top 5:", "UNTRAINED WEIGHTS:")),
        ("slides/03_vgg_pretrained.slides.html", _deck(BANNER)),
        (
            "notebooks/03_vgg_pretrained.html",
            _page().replace('alt="a bar', 'alt="vgg19 (UNTRAINED WEIGHTS): a bar'),
        ),
        ("index.html", "<html><body><p>UNTRAINED\n(random) weights</p></body></html>"),
        ("index.html", '<html><body><img alt="top 10 (UNTRAINED WEIGHTS)" src="a.png"></body>'),
    ],
)
def test_untrained_weights_on_a_page_refuse_the_book(build, capsys, page, text):
    _write(build / "html" / page, text)
    found = publish.untrained(build)
    assert len(found) == 1 and found[0].startswith(f"html/{page}: "), found
    assert "UNTRAINED" in found[0]
    assert publish.main([str(build)]) == 1
    assert found[0] in capsys.readouterr().err


def test_a_missing_or_empty_build_is_refused(tmp_path, capsys):
    assert publish.main([str(tmp_path / "_build")]) == 1
    assert "no book here; build it first with `python -m book`" in capsys.readouterr().err
    (tmp_path / "_build").mkdir()
    assert publish.main([str(tmp_path / "_build")]) == 1
    err = capsys.readouterr().err
    assert "_build/html/: missing (the whole folder)" in err
    assert "_build/executed/: missing (the whole folder)" in err
    assert "Not publishable: the book is incomplete" in err


def test_a_book_missing_a_notebook_or_its_pages_is_refused(build, capsys):
    (build / "executed" / "05_nin_inception.ipynb").unlink()
    (build / "html" / "slides" / "07_resnext.slides.html").unlink()
    (build / "html" / "search.html").unlink()
    (build / "html" / "student" / "01_lenet_mnist.ipynb").unlink()
    (build / "html" / "notebooks" / "09_every_family_trained.html").unlink()
    assert sorted(publish.incomplete(build)) == [
        f"{build.as_posix()}/executed/05_nin_inception.ipynb: missing",
        f"{build.as_posix()}/html/notebooks/09_every_family_trained.html: missing",
        f"{build.as_posix()}/html/search.html: missing",
        f"{build.as_posix()}/html/slides/07_resnext.slides.html: missing",
        f"{build.as_posix()}/html/student/01_lenet_mnist.ipynb: missing",
    ]
    assert publish.main([str(build)]) == 1


def test_a_notebook_that_did_not_run_or_failed_is_refused(build):
    _write(build / "executed" / "02_alexnet_augmentation.ipynb", json.dumps(_notebook(count=None)))
    error = {"output_type": "error", "ename": "KeyError", "evalue": "'x'", "traceback": []}
    _set_outputs(build, "06_resnet_bottleneck", error)
    _write(build / "executed" / "08_summary.ipynb", "{not json")
    problems = publish.incomplete(build)
    assert (
        problems[0]
        == "executed/02_alexnet_augmentation.ipynb: no cell was run; build the book again"
    )
    assert problems[1] == "executed/06_resnet_bottleneck.ipynb: cell 2 failed (KeyError: 'x')"
    assert problems[2].startswith("executed/08_summary.ipynb: not a notebook")
    assert len(problems) == 3


# --- the real exporters -----------------------------------------------------------------------


def _probe(tmp_path: Path, output: str) -> Path:
    """A one-cell notebook whose code holds the phrase and whose output is `output`."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# Probe\n\n{PROSE}"),
        nbformat.v4.new_code_cell(
            CODE, execution_count=1, outputs=[nbformat.v4.new_output("stream", text=output)]
        ),
    ]
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("output, found", [("top 5: tabby\n", 0), (WARNING, 1)])
def test_nbconvert_decks_are_read_without_their_code(tmp_path, output, found):
    from nbconvert import SlidesExporter

    deck, _ = SlidesExporter().from_filename(str(_probe(tmp_path, output)))
    _write(tmp_path / "probe.slides.html", deck)
    assert "UNTRAINED WEIGHTS: these scores mean nothing" in deck  # in the code
    assert len(publish.page_places(tmp_path / "probe.slides.html", "deck")) == found


def test_myst_nb_pages_are_read_without_their_code(tmp_path):
    pytest.importorskip("myst_nb")  # book/requirements.txt
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir()
    _probe(src, WARNING)
    _write(src / "conf.py", 'extensions = ["myst_nb"]\nnb_execution_mode = "off"\n')
    _write(src / "index.md", "# Home\n\n```{toctree}\nprobe\n```\n")
    out = tmp_path / "html"
    Sphinx(str(src), str(src), str(out), str(tmp_path / "doctrees"), "html", status=None).build()
    page = (out / "probe.html").read_text(encoding="utf-8")
    assert "UNTRAINED WEIGHTS: these scores mean nothing" in page  # in the code
    (found,) = publish.page_places(out / "probe.html", "probe.html")
    assert "Using UNTRAINED (random) weights" in found  # the output, and only it


# --- the workflows ------------------------------------------------------------------------------


def _workflow(name: str) -> dict:
    import yaml

    flow = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8"))
    flow["on"] = flow.pop(True, flow.get("on"))  # YAML 1.1 reads the key `on` as True
    return flow


def _readme_lines() -> dict[str, str]:
    """README's command for the tests on each system, and its command for the book."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    posix = re.search(r"^(python3 -m venv .* && pytest)$", readme, re.M)[1]
    row = re.search(r"^\| Windows[^|]*\|[^|]*\| `([^`]+)` \|$", readme, re.M)[1]
    book = re.search(r"^(python3 -m venv .* && python -m book)$", readme, re.M)[1]
    return {"macos-latest": posix, "windows-latest": row, "book": book}


def _runs(job: dict) -> list[str]:
    return [step.get("run", "") for step in job["steps"]]


def _uses(job: dict) -> list[str]:
    return [step.get("uses", "").split("@")[0] for step in job["steps"]]


def test_ci_runs_ci_run_on_linux_and_readmes_install_lines_on_macos_and_windows():
    flow = _workflow("ci.yml")
    assert {"push", "pull_request"} <= set(flow["on"])
    ci = flow["jobs"]["ci"]
    assert ci["runs-on"] == "ubuntu-latest" and ci["timeout-minutes"] <= 90
    assert "bash .ci/run" in _runs(ci)
    upload = next(s for s in ci["steps"] if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["with"]["path"].rstrip("/") == "_build/screenshots"
    assert upload["if"] == "always()"

    (other,) = [job for job in flow["jobs"].values() if "strategy" in job]
    systems = {entry["os"]: entry for entry in other["strategy"]["matrix"]["include"]}
    assert sorted(systems) == ["macos-latest", "windows-latest"]
    readme = _readme_lines()
    for system, entry in systems.items():
        # README's line is install && pytest: the workflow runs the install as it is
        assert readme[system].endswith(" && pytest"), readme[system]
        assert entry["install"] == readme[system].removesuffix(" && pytest"), system
    assert systems["windows-latest"]["shell"] in ("pwsh", "cmd")  # the shells README names
    assert other["runs-on"] == "${{ matrix.os }}"
    assert other["defaults"]["run"]["shell"] == "${{ matrix.shell }}"
    assert other["env"]["MPLBACKEND"] == "Agg"
    setup = next(s for s in other["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["python-version"] == "3.11"
    (tests,) = [run for run in _runs(other) if "pytest" in run]
    assert tests.startswith("${{ matrix.install }} && pytest tests notebooks/07_resnext.ipynb")
    for left_out in ("test_browser.py", "test_hub.py", "test_book.py"):
        assert f"--ignore=tests/{left_out}" in tests


def test_the_book_is_checked_before_anything_is_published():
    flow = _workflow("book.yml")
    assert flow["on"]["push"]["branches"] == ["main"] and "workflow_dispatch" in flow["on"]
    assert flow["concurrency"]["group"]
    jobs = flow["jobs"]
    (name,) = [
        n for n, job in jobs.items() if any("python -m book --repo" in r for r in _runs(job))
    ]
    build = jobs[name]
    runs, uses = _runs(build), _uses(build)

    def step(text: str) -> int:
        (k,) = [k for k, run in enumerate(runs) if text in run]
        return k

    install = runs[step("book/requirements.txt")]
    assert install == _readme_lines()["book"].removesuffix(" && python -m book")
    built = step('python -m book --repo "$REPO" --branch "$BRANCH"')
    assert build["steps"][built]["env"] == {
        "REPO": "${{ github.repository }}",
        "BRANCH": "${{ github.ref_name }}",
    }
    checked = step("python -m book check-publishable _build")
    pushed = step('git push --force origin "$commit:refs/heads/student"')
    uploaded = uses.index("actions/upload-pages-artifact")
    assert built < checked < pushed < uploaded
    assert "for file in _build/html/student/*.ipynb " in runs[pushed]
    assert build["steps"][uploaded]["with"]["path"] == "_build/html"
    assert not any("if" in s for s in build["steps"][checked:])  # no step runs after a refusal
    assert build["permissions"]["contents"] == "write"

    (deploy,) = [job for job in jobs.values() if "actions/deploy-pages" in _uses(job)]
    assert deploy["needs"] in (name, [name])
    assert "if" not in deploy
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert deploy["environment"]["name"] == "github-pages"
