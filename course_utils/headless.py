"""Running notebooks headless (nbclient), as the grader and a book build do, without stalling.

A tool (imports nothing from the package). Serves the grader of the notebooks' exercises
(01-09, through exercises) and tests/test_headless.py, which runs a live fit and notebook 02's
explorer headless.
"""

from __future__ import annotations

import time
from queue import Empty


def steady_shell(kc, step: float = 1.0) -> None:
    """Make the kernel client `kc` wait for shell replies in steps of `step` seconds.

    nbclient's stand-in for an Output widget (a course explorer draws into one) sends on the
    shell channel while nbclient waits on it for the cell's reply, and pyzmq can then miss the
    reply's wake-up (jupyter/nbclient#312): the wait lasts until the cell's time limit, or for
    ever without one, with the kernel idle. Each step ends by checking the socket, so a missed
    reply is read within `step` seconds."""
    channel = kc.shell_channel
    get_msg = channel.get_msg

    async def get_msg_in_steps(timeout=None):
        end = None if timeout is None else time.monotonic() + timeout
        while True:
            left = step if end is None else min(step, max(0.0, end - time.monotonic()))
            try:
                return await get_msg(timeout=left)
            except Empty:
                if end is not None and time.monotonic() >= end:
                    raise

    channel.get_msg = get_msg_in_steps
