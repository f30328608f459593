"""A moto server for the local deploy: moto_ext applied, bound to 127.0.0.1 on a free port, stopped by its PID.

`python -m tests.localdeploy.server --state-file PATH` applies the moto extension, binds 127.0.0.1 on a port the
kernel picks (no race with other processes), writes `{"pid": ..., "port": ...}` to PATH and serves until it
gets SIGTERM or SIGINT. `start_server()` runs that process and waits until it answers; `stop_server()` stops it
by its PID. `running_server()` does both around a block, also when the block fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.localdeploy.cli import local_aws_environment

HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class MotoServer:
    pid: int
    port: int
    log_file: Path

    @property
    def endpoint_url(self) -> str:
        # `localhost` resolves to loopback here; moto's S3 also parses path-style URLs on it natively.
        return f"http://127.0.0.1:{self.port}"


class ServerError(RuntimeError):
    pass


def start_server(workdir: Path, *, python: str = sys.executable, timeout: float = START_TIMEOUT) -> MotoServer:
    """Start `python -m tests.localdeploy.server` in its own process group and wait until it answers HTTP."""
    workdir.mkdir(parents=True, exist_ok=True)
    state_file = workdir / "moto-server.json"
    log_file = workdir / "moto-server.log"
    state_file.unlink(missing_ok=True)
    project_root = Path(__file__).resolve().parents[2]
    # The server needs no AWS settings of its own: none are inherited (a profile that does not exist here would
    # break moto's import), it gets the same fake credentials and empty config files as the CLI.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_DEFAULT_"))}
    env.update(local_aws_environment(None, workdir))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project_root), env.get("PYTHONPATH")]))
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [python, "-m", "tests.localdeploy.server", "--state-file", str(state_file)],
            cwd=project_root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise ServerError(f"the moto server exited with {process.returncode}:\n{_tail(log_file)}")
            if state_file.exists():
                with contextlib.suppress(json.JSONDecodeError):
                    state = json.loads(state_file.read_text())
                    server = MotoServer(pid=state["pid"], port=state["port"], log_file=log_file)
                    if server.pid != process.pid:
                        raise ServerError(f"the state file names PID {server.pid}, the server runs as {process.pid}")
                    if _answers(server):
                        return server
            if time.monotonic() > deadline:
                raise ServerError(f"the moto server did not answer within {timeout:.0f} s:\n{_tail(log_file)}")
            time.sleep(0.05)
    except BaseException:
        _stop_pid(process.pid, process)
        raise


def stop_server(server: MotoServer, *, timeout: float = STOP_TIMEOUT) -> None:
    """Stop the server by its PID: SIGTERM, then SIGKILL if it is still there after `timeout` seconds."""
    _stop_pid(server.pid, None, timeout=timeout)


@contextlib.contextmanager
def running_server(workdir: Path) -> Iterator[MotoServer]:
    server = start_server(workdir)
    try:
        yield server
    finally:
        stop_server(server)


def pid_is_running(pid: int) -> bool:
    """Whether a process with this PID exists (and is not a zombie waiting to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _stop_pid(pid: int, process: subprocess.Popen | None, *, timeout: float = STOP_TIMEOUT) -> None:
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if _reap(pid, process):
                return
            time.sleep(0.05)
    _reap(pid, process)


def _reap(pid: int, process: subprocess.Popen | None) -> bool:
    """True once the process is gone; reaps it if it is our child."""
    if process is not None:
        return process.poll() is not None
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return True
    return not pid_is_running(pid)


def _answers(server: MotoServer) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{server.port}/moto-api/", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------------------------------------------
# The server process


def serve(state_file: Path) -> None:
    from tests.localdeploy import moto_ext

    patches = moto_ext.apply()

    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    # Lambda functions are only created, never run in a container: the local deploy needs no Docker.
    default_user_config["lambda"]["use_docker"] = False

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(HOST, 0, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_address[1]
    os.environ["MOTO_PORT"] = str(port)  # moto builds some URLs (e.g. SQS queue URLs) from it

    def shutdown(signum: int, frame: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)

    print(f"moto {moto_ext.installed_moto_version()} on http://{HOST}:{port} (PID {os.getpid()})", flush=True)
    for patch in patches:
        print(f"  moto_ext.{patch.name}: {patch.gap}", flush=True)
    tmp = state_file.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "port": port}))
    tmp.replace(state_file)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-file", type=Path, required=True, help="where to write {pid, port} once listening")
    args = parser.parse_args(argv)
    serve(args.state_file)


if __name__ == "__main__":
    main()
