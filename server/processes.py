"""``qingling serve --workers N``: N HTTP processes accepting on one listening socket.

One Python process is bound by its GIL to about one core, so a machine with more cores (and a province's
evening peak) needs several. The parent binds the socket, forks N children that each build their own
services (engine, blob store) and run waitress on the inherited socket (the kernel hands each new
connection to one of them), and restarts a child that dies. It runs no requests and opens no database
connection itself. All children share one PostgreSQL database and one blob store; the job queue is
shared through ``FOR UPDATE SKIP LOCKED``. SQLite is refused (server/cli.py): it lets one writer in at a
time, so more processes only wait on each other's file lock.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
import traceback
from collections.abc import Callable

log = logging.getLogger(__name__)

RESTART_PAUSE = 1.0  # seconds before a child that died is started again (a crash loop stays slow)


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock


def serve_processes(count: int, sock: socket.socket, run_child: Callable[[socket.socket], None]) -> None:
    """Fork ``count`` children running ``run_child(sock)``; supervise them until SIGTERM or SIGINT."""
    children: dict[int, int] = {}  # pid -> slot
    stopping = False

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child: default signal handling, then serve until killed
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                run_child(sock)
            except BaseException:  # noqa: BLE001 - reported, then the parent starts another
                traceback.print_exc()
                code = 1
            finally:
                os._exit(code)
        children[pid] = slot
        log.info("HTTP process %d started (pid %d)", slot, pid)

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for slot in range(1, count + 1):
        spawn(slot)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        slot = children.pop(pid, None)
        if slot is None or stopping:
            continue
        log.warning("HTTP process %d (pid %d) ended (%s); starting another", slot, pid, _describe(status))
        time.sleep(RESTART_PAUSE)
        if not stopping:
            spawn(slot)
    sock.close()


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
