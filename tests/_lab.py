"""`make lab` as a child process on a free loopback port, with a token and no browser."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from _serve_proc import free_port
from conftest import ROOT


@dataclass
class Lab:
    url: str
    token: str

    def get(self, path: str):
        """GET ``path`` of the server's REST API as JSON, with the token."""
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)


@contextlib.contextmanager
def running_lab(home: Path, env: dict[str, str] | None = None, args: str = "",
                timeout: float = 90) -> Iterator[Lab]:
    """``make lab`` until the ``with`` ends; Jupyter's config, data and runtime folders in ``home``
    (the notebooks are trusted there, not in the user's own signature database), ``env`` added to
    its environment (the kernels inherit it), ``args`` added to JupyterLab's options."""
    port, token = free_port(), os.urandom(16).hex()
    env = {**os.environ, **(env or {}), "JUPYTER_TOKEN": token, "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    proc = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_PORT={port}",
                             f"LAB_ARGS=--no-browser --ServerApp.port_retries=0 {args}"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                lab.get("/api/status")
                break
            except OSError as exc:
                if proc.poll() is not None:
                    raise RuntimeError("make lab exited: "
                                       + proc.stderr.read().decode(errors="replace")[-2000:]) from exc
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s") from exc
                time.sleep(0.5)
        yield lab
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # make and the server it started
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stderr.close()
