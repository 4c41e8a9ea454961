"""A class on a real JupyterHub: two students run notebooks at once on one read-only course pack.

The hub, its proxy and the students' servers are real (tests/classroom.py): JupyterHub's
DummyAuthenticator and SimpleLocalProcessSpawner on 127.0.0.1, configurable-http-proxy from
npm. Each student logs in through the hub's REST API, pulls the course into their home with
nbgitpuller (the README's link recipe) and runs a notebook from it in their own server.
Fails if a run fails, if a student's results land anywhere but their own home, if one student
can reach another's server, or if anything is written to the pack.
"""

import os
import urllib.error
import urllib.request

import pytest
from classroom import Hub, hub_command, make_pack, proxy_command, snapshot

# The quickest notebook that trains and saves (01 saves LeNet5 for 04), and one that only counts.
CLASS = {"ada": "01_lenet_mnist.ipynb", "alan": "07_resnext.ipynb"}


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.fixture
def hub_tools():
    missing = [
        what
        for what, found in (
            ("jupyterhub (pip install -r requirements-dev.txt)", hub_command()),
            ("nbgitpuller (pip install -r requirements-dev.txt)", _has("nbgitpuller")),
            ("configurable-http-proxy (npm ci --prefix tests/hub)", proxy_command()),
        )
        if not found
    ]
    if missing and os.environ.get("CI"):
        pytest.fail(f"CI runs the class test, and it needs {' and '.join(missing)}")
    if missing:
        pytest.skip(f"needs {' and '.join(missing)}")


def test_a_class_runs_at_once_on_one_read_only_pack(hub_tools, tmp_path, make_read_only):
    pack = tmp_path / "pack"
    prefetch = make_pack(pack)
    assert "Traceback" not in prefetch.stdout + prefetch.stderr, prefetch.stderr
    make_read_only(pack)
    before = snapshot(pack)
    with Hub(tmp_path / "hub", pack=pack) as hub:
        runs = hub.run_class(CLASS)
        homes = {user: hub.homes / user for user in CLASS}
        # One student's token opens their own server, never another's.
        for user, other in (("ada", "alan"), ("alan", "ada")):
            request = urllib.request.Request(
                f"{hub.servers[other]}api/status",
                headers={"Authorization": f"token {hub.tokens[user]}"},
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30)
            assert refused.value.code in (403, 404), (user, other, refused.value.code)
        # The link an instructor hands out: the hub sends the student to their own server's
        # nbgitpuller page, which pulls the course (done above through its API) and opens 01.
        landed, html = hub.follow_as_student("ada", hub.pull_link("ada"))
        assert "/user/ada/git-pull?" in landed and "urlpath=lab" in landed, landed
        assert "nbgitpuller" in html.lower(), html[:500]
        log = hub.tail(60)
    for user in CLASS:  # each pulled the whole course into their own home
        assert (homes[user] / "image-classification" / "notebooks" / CLASS[user]).is_file()
    for run in runs:
        assert run.ok, f"{run.user} ran {run.notebook}: {run.error}\n{run.text[-2000:]}\n{log}"
        home = homes[run.user]
        assert run.report["cache_dir"] == str(home / ".cache" / "course_utils"), run.report
        assert run.report["data_dir"] == str(pack / "data"), run.report
        assert run.report["torch_home"] == str(pack / "torch"), run.report
        assert "Permission denied" not in run.text, run.text[-2000:]
    # 01 saved its LeNet5 in ada's home, and nowhere else; alan's 07 saved nothing of the kind.
    assert (homes["ada"] / ".cache/course_utils/models/lenet5_mnist.pt").is_file()
    assert not (homes["alan"] / ".cache/course_utils/models/lenet5_mnist.pt").exists()
    assert snapshot(pack) == before  # nothing written to the pack, nor a file's time touched
