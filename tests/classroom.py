"""A class on one machine: a real JupyterHub, its proxy and one single-user server per student.

tests/test_hub.py (two students, in CI) and benchmarks/classroom.py (a larger class) use it:

    with Hub(folder, pack=pack) as hub:
        runs = hub.run_class({"ada": "01_lenet_mnist.ipynb", "alan": "07_resnext.ipynb"})

The hub is JupyterHub from PyPI with its built-in DummyAuthenticator and
SimpleLocalProcessSpawner, on 127.0.0.1 only, behind configurable-http-proxy from npm
(`npm ci --prefix tests/hub`). Each student logs in through the hub's REST API (a token of
their own), starts their own server, pulls the course into their home with nbgitpuller (the
link recipe in the README) and runs a notebook from it, cell by cell, in a kernel of that
server, over the kernel's WebSocket, as JupyterLab does. Every
student's kernel gets the same environment a hub would give it: the shared, read-only course
pack in COURSE_DATA_DIR and TORCH_HOME, and a home of their own for everything else.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What the students pull: this repository's committed state (a local path works as nbgitpuller's
# repo, as the course's GitHub URL does on a real hub), into ~/image-classification.
REPO = str(ROOT)
COURSE_FOLDER = "image-classification"
PROXY = ROOT / "tests" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"

# What each kernel reports after its notebook: where it wrote, and its peak memory.
PROBE = """
import json, resource, course_utils as cu
print("CLASSROOM " + json.dumps({
    "cache_dir": str(cu.env.cache_dir()),
    "data_dir": str(cu.env.data_dir()),
    "torch_home": str(cu.env.torch_home()),
    "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def proxy_command() -> str | None:
    """configurable-http-proxy: the one `npm ci --prefix tests/hub` installs, else on PATH."""
    return str(PROXY) if PROXY.exists() else shutil.which("configurable-http-proxy")


def hub_command() -> str | None:
    """jupyterhub, from this Python's environment (requirements-dev.txt installs it)."""
    here = Path(sys.executable).parent / "jupyterhub"
    return str(here) if here.exists() else shutil.which("jupyterhub")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Run:
    """One student's notebook, run in their own server."""

    user: str
    notebook: str
    cells: int = 0  # code cells run
    error: str = ""  # the first failing cell's error, or why the run stopped
    seconds: float = 0.0
    report: dict = field(default_factory=dict)  # PROBE's answer
    text: str = ""  # everything the cells printed, for the test's own checks

    @property
    def ok(self) -> bool:
        return not self.error and bool(self.report)


class HubError(RuntimeError):
    pass


class Hub:
    """A JupyterHub in `folder` (its database, config, logs and the students' homes)."""

    def __init__(self, folder: Path, *, pack: Path, start_timeout: float = 180) -> None:
        self.folder = Path(folder)
        self.pack = Path(pack)
        self.homes = self.folder / "home"
        self.start_timeout = start_timeout
        self.token = secrets.token_hex(16)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = self.folder / "hub.log"
        self.tokens: dict[str, str] = {}
        self.servers: dict[str, str] = {}

    # --- the hub itself ---------------------------------------------------------------------

    def config(self) -> str:
        singleuser = Path(sys.executable).parent / "jupyterhub-singleuser"
        args = ["--allow-root"] if os.geteuid() == 0 else []
        environment = {  # what an instructor sets once for every student's kernel
            "COURSE_DATA_DIR": str(self.pack / "data"),
            "TORCH_HOME": str(self.pack / "torch"),
            "MPLBACKEND": "Agg",
        }
        return "\n".join(
            [
                f"c.JupyterHub.ip = '127.0.0.1'\nc.JupyterHub.port = {self.port}",
                f"c.JupyterHub.hub_ip = '127.0.0.1'\nc.JupyterHub.hub_port = {_free_port()}",
                f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{_free_port()}'",
                f"c.ConfigurableHTTPProxy.command = [{proxy_command()!r}]",
                f"c.ConfigurableHTTPProxy.pid_file = {str(self.folder / 'proxy.pid')!r}",
                f"c.JupyterHub.db_url = 'sqlite:///{self.folder / 'hub.sqlite'}'",
                f"c.JupyterHub.cookie_secret_file = {str(self.folder / 'cookie_secret')!r}",
                "c.JupyterHub.authenticator_class = 'dummy'",
                "c.Authenticator.allow_all = True",
                "c.JupyterHub.spawner_class = 'simple'",
                "c.SimpleLocalProcessSpawner.home_dir_template = "
                + repr(str(self.homes) + "/{username}"),
                f"c.Spawner.cmd = [{str(singleuser)!r}]",
                f"c.Spawner.args = {args!r}",
                f"c.Spawner.environment = {environment!r}",
                "c.Spawner.default_url = '/lab'",
                f"c.Spawner.start_timeout = {int(self.start_timeout)}",
                f"c.Spawner.http_timeout = {int(self.start_timeout)}",
                "c.JupyterHub.cleanup_servers = True",
                f"c.JupyterHub.services = [{{'name': 'class-test', 'api_token': {self.token!r}}}]",
                "c.JupyterHub.load_roles = [{'name': 'class-test', 'services': ['class-test'],"
                " 'scopes': ['admin:users', 'admin:servers', 'tokens']}]",
                "",
            ]
        )

    def __enter__(self) -> Hub:
        hub, proxy = hub_command(), proxy_command()
        if not hub or not proxy:
            raise HubError(
                f"needs jupyterhub ({hub or 'missing: pip install jupyterhub'}) and "
                f"configurable-http-proxy ({proxy or 'missing: npm ci --prefix tests/hub'})"
            )
        self.folder.mkdir(parents=True, exist_ok=True)
        self.homes.mkdir(exist_ok=True)
        config = self.folder / "jupyterhub_config.py"
        config.write_text(self.config(), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "TORCH_"))}
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [hub, "-f", str(config)],
                cwd=self.folder,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # the hub, its proxy and servers: one group to stop
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise HubError(f"the hub exited at start: {self.tail()}")
            try:
                if "version" in self.api("GET", "/"):
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        raise HubError(f"the hub did not answer in 60 s: {self.tail()}")

    def __exit__(self, *exc) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)  # cleanup_servers: it stops every server
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever outlived the hub
        except ProcessLookupError:
            pass

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    # --- REST ---------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: dict | None = None, token: str = "") -> dict:
        """The hub's REST API, as the service that stands in for the university's login."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/hub/api{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {token or self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text else {}

    def log_in(self, user: str) -> str:
        """Create `user` and give them a token of their own, as logging in would."""
        self.api("POST", f"/users/{user}")
        return self.api("POST", f"/users/{user}/tokens", {"note": "class test"})["token"]

    def start_server(self, user: str, token: str) -> str:
        """The student starts their own server, and it answers: its URL."""
        self.api("POST", f"/users/{user}/server", token=token)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            server = self.api("GET", f"/users/{user}", token=token).get("servers", {}).get("")
            if server and server.get("ready"):
                return f"{self.url}{server['url']}"
            time.sleep(0.5)
        waited = f"{self.start_timeout:.0f} s"
        raise HubError(f"{user}'s server did not start in {waited}: {self.tail()}")

    def pull_link(self, user: str, repo: str = REPO) -> str:
        """The nbgitpuller link an instructor hands out (README, "A class on a JupyterHub"): it
        logs the student in, pulls the course into their home and opens notebook 01."""
        query = urllib.parse.urlencode(
            {
                "repo": repo,
                "urlpath": f"lab/tree/{COURSE_FOLDER}/notebooks/01_lenet_mnist.ipynb",
                "targetpath": COURSE_FOLDER,
            }
        )
        return f"{self.url}/hub/user-redirect/git-pull?{query}"

    def follow_as_student(self, user: str, url: str) -> tuple[str, str]:
        """Open `url` in a browser-like session: the hub asks the student to log in (its login
        form, as DummyAuthenticator serves it), then follows every redirect, through the OAuth
        handshake with the student's server. (The page's final URL, its HTML.)"""
        import http.cookiejar
        import re

        jar = http.cookiejar.CookieJar()
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        with browser.open(url, timeout=60) as page:
            login_url, html = page.geturl(), page.read().decode()
        if "/hub/login" in login_url:
            xsrf = re.search(r'name="_xsrf" value="([^"]+)"', html)
            form = {"username": user, "password": "any"} | ({"_xsrf": xsrf[1]} if xsrf else {})
            body = urllib.parse.urlencode(form).encode()
            with browser.open(login_url, data=body, timeout=120) as page:
                return page.geturl(), page.read().decode()
        return login_url, html

    def pull_course(self, user: str, token: str, repo: str = REPO) -> list[dict]:
        """What the link's page does next: nbgitpuller's API clones (or updates) the course into
        the student's home, reporting as a stream of events; the events, the last "finished"."""
        query = urllib.parse.urlencode({"repo": repo, "targetpath": COURSE_FOLDER})
        request = urllib.request.Request(
            f"{self.servers[user]}git-pull/api?{query}",
            headers={"Authorization": f"token {token}"},
        )
        events = []
        with urllib.request.urlopen(request, timeout=300) as stream:
            for raw in stream:
                line = raw.decode().strip()
                if line.startswith("data:"):
                    events.append(json.loads(line.removeprefix("data:")))
                    if events[-1].get("phase") in ("finished", "error"):
                        break
        if not events or events[-1].get("phase") != "finished":
            raise HubError(f"nbgitpuller did not pull {repo} for {user}: {events[-3:]}")
        return events

    # --- a class ------------------------------------------------------------------------------

    def run_class(
        self, notebooks: dict[str, str], *, cell_timeout: float = 300, repo: str = REPO
    ) -> list[Run]:
        """Every student in `notebooks` (user: notebook file) logs in, starts a server, pulls
        the course with nbgitpuller and runs their notebook from it, all at the same time."""
        tokens = {user: self.log_in(user) for user in notebooks}
        self.tokens.update(tokens)
        for user in notebooks:
            self.servers[user] = self.start_server(user, tokens[user])
            self.pull_course(user, tokens[user], repo)

        async def everyone() -> list[Run]:
            return await asyncio.gather(
                *(
                    run_notebook(self.servers[u], tokens[u], u, nb, cell_timeout)
                    for u, nb in notebooks.items()
                )
            )

        return asyncio.run(everyone())


def _message(msg_type: str, content: dict, session: str, channel: str = "shell") -> dict:
    return {
        "header": {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "session": session,
            "username": "student",
            "version": "5.3",
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "channel": channel,
        "buffers": [],
    }


def _decode(raw: str | bytes) -> dict:
    """A kernel message from the WebSocket: JSON text, or, when it carries binary buffers (a
    widget's image), jupyter_server's binary frame: the count of parts, their offsets, then
    the message's JSON first."""
    if isinstance(raw, str):
        return json.loads(raw)
    parts = int.from_bytes(raw[:4], "big")
    offsets = [int.from_bytes(raw[4 * (k + 1) : 4 * (k + 2)], "big") for k in range(parts)]
    end = offsets[1] if parts > 1 else len(raw)
    return json.loads(raw[offsets[0] : end].decode("utf-8"))


async def _execute(ws, code: str, session: str, timeout: float) -> tuple[str, str]:
    """Run `code` in the kernel behind `ws`: (what it printed, its error or "")."""
    request = _message(
        "execute_request",
        {"code": code, "silent": False, "store_history": True, "user_expressions": {}},
        session,
    )
    await ws.write_message(json.dumps(request))
    printed, error, idle, replied = [], "", False, False
    deadline = time.monotonic() + timeout
    while not (idle and replied):
        left = deadline - time.monotonic()
        if left <= 0:
            return "".join(printed), f"no answer in {timeout:.0f} s"
        raw = await asyncio.wait_for(ws.read_message(), left)
        if raw is None:
            return "".join(printed), "the kernel's connection closed (did it die?)"
        msg = _decode(raw)
        if msg.get("parent_header", {}).get("msg_id") != request["header"]["msg_id"]:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            printed.append(content["text"])
        elif kind in ("display_data", "execute_result"):
            printed.append(content["data"].get("text/plain", "") + "\n")
        elif kind == "error":
            error = f"{content['ename']}: {content['evalue']}"
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
        elif kind == "execute_reply":
            replied = True
    return "".join(printed), error


async def run_notebook(
    server: str, token: str, user: str, notebook: str, cell_timeout: float
) -> Run:
    """Run `notebook` of the course the student pulled into their home, in a kernel of their
    server started as JupyterLab starts one (a session, in the notebook's folder)."""
    from tornado.httpclient import AsyncHTTPClient, HTTPRequest
    from tornado.websocket import websocket_connect

    run = Run(user, notebook)
    client = AsyncHTTPClient()
    headers = {"Authorization": f"token {token}", "Content-Type": "application/json"}

    async def call(method: str, path: str, body: dict | None = None) -> dict:
        response = await client.fetch(
            f"{server}api/{path}",
            method=method,
            headers=headers,
            body=json.dumps(body) if body is not None else None,
            request_timeout=60,
        )
        return json.loads(response.body) if response.body else {}

    path = f"{COURSE_FOLDER}/notebooks/{notebook}"
    content = (await call("GET", f"contents/{path}?content=1"))["content"]
    session = await call(
        "POST",
        "sessions",
        {"path": path, "type": "notebook", "name": "", "kernel": {"name": "python3"}},
    )
    kernel = session["kernel"]["id"]
    ws_url = server.replace("http", "ws", 1) + f"api/kernels/{kernel}/channels"
    ws = await websocket_connect(HTTPRequest(ws_url, headers=headers))
    started = time.monotonic()
    printed = []
    try:
        for cell in content["cells"]:
            if cell["cell_type"] != "code":
                continue
            text, error = await _execute(ws, "".join(cell["source"]), session["id"], cell_timeout)
            printed.append(text)
            run.cells += 1
            if error:
                run.error = f"cell {run.cells}: {error}"
                break
        run.seconds = time.monotonic() - started
        if not run.error:
            text, error = await _execute(ws, PROBE, session["id"], 60)
            run.error = error
            for line in text.splitlines():
                if line.startswith("CLASSROOM "):
                    run.report = json.loads(line.removeprefix("CLASSROOM "))
    finally:
        ws.close()
        await call("DELETE", f"sessions/{session['id']}")
    run.text = "".join(printed)
    return run


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under `folder`: its size and modification time, to prove that
    nothing was written there."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            info = path.lstat()
            found[str(path.relative_to(folder))] = (info.st_size, info.st_mtime_ns)
    return found


def make_pack(pack: Path) -> subprocess.CompletedProcess:
    """The instructor's step before class: python -m course_utils.prefetch into the pack (MNIST
    into pack/data, torchvision's weights into pack/torch). Offline it fetches nothing, and
    says so; the students' kernels then fall back as they would with a partial pack."""
    (pack / "data").mkdir(parents=True, exist_ok=True)
    (pack / "torch").mkdir(exist_ok=True)
    env = {**os.environ, "TORCH_HOME": str(pack / "torch")}
    return subprocess.run(
        [sys.executable, "-m", "course_utils.prefetch", "--data-dir", str(pack / "data")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
