"""Executing a notebook headless (nbclient, as nbconvert --execute and a book build do) under the
inline backend never hangs, and the saved copy keeps the live figure and the progress bar.

nbclient's stand-in for an Output widget sends on the shell channel while nbclient waits there
for the cell's reply; pyzmq can then miss the reply (jupyter/nbclient#312), and the client waits
until the cell's time limit, for ever without one, while the kernel is idle. Seen here after
cu.widgets.augmentation_explorer (notebook 02): the next cell started only at the limit.
headless.steady_shell reads a missed reply within a second; each cell here has a short limit,
and a gap between cells as long as that limit fails the test, naming the cell.
"""

import datetime as dt

import nbformat
from nbclient import NotebookClient

from course_utils.headless import steady_shell

CELL_LIMIT = 60  # seconds; a cell here takes a few
CELLS = [
    "import course_utils as cu",
    "train, test = cu.load_dataset('digits')\n"
    "cu.seed_everything(0)\n"
    "history = cu.fit(cu.LeNet5(), cu.data.subset(train, 300, seed=0),\n"
    "                 cu.data.subset(test, 200, seed=0), epochs=2)",
    "cu.widgets.augmentation_explorer('cat')",
    "cu.widgets.augmentation_explorer('coffee')",
    "cu.widgets.augmentation_explorer('astronaut')",
    "print('done')",
]


class SteadyClient(NotebookClient):
    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        steady_shell(kc)
        return kc


def _time(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_a_headless_run_with_the_inline_backend_never_waits(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    SteadyClient(
        nb,
        timeout=CELL_LIMIT,
        kernel_name="python3",
        record_timing=True,
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    for before, cell in zip(nb.cells, nb.cells[1:], strict=False):
        idle = _time(before.metadata.execution["iopub.status.idle"])
        gap = (_time(cell.metadata.execution["iopub.execute_input"]) - idle).total_seconds()
        assert gap < 10, f"the client waited {gap:.0f} s before cell {cell.source[:40]!r}"
    outputs = nb.cells[1].outputs
    html = [o["data"].get("text/html", "") for o in outputs if o["output_type"] == "display_data"]
    assert any("training: 100%" in h and 'value="20"' in h for h in html), html
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1  # the live figure, redrawn in place, kept once
    assert nb.cells[-1].outputs[0]["text"] == "done\n"
