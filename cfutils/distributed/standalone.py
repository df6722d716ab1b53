"""A Spark standalone cluster on this machine: one master and ``workers`` workers, started with the
installed PySpark's ``bin/spark-class`` on free ports, stopped (every process it started) on exit.

For the cluster test (``make test-spark``) and ``benchmarks/spark_scale.py``; a real cluster is
started the same way on several machines (``spark-class ...Master`` on one, ``...Worker URL`` on each).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pyspark

SPARK_CLASS = Path(pyspark.__file__).parent / "bin" / "spark-class"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class StandaloneCluster:
    """``with StandaloneCluster(workers=2, cores=1, memory="1g") as cluster:`` then ``cluster.url``.

    Waits (up to ``timeout`` seconds) until every worker has registered with the master; its
    logs go to ``log_dir`` (a temporary folder by default). ``workers_alive()`` asks the master.
    """

    def __init__(self, workers: int = 2, cores: int = 1, memory: str = "1g", log_dir=None, timeout: float = 120):
        self.n_workers, self.cores, self.memory, self.timeout = workers, cores, memory, timeout
        self.log_dir = Path(log_dir or tempfile.mkdtemp(prefix="spark-standalone-"))
        self.processes: list[subprocess.Popen] = []
        self.logs: list = []
        self.port, self.ui_port = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"

    def __enter__(self) -> StandaloneCluster:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                        "--port", str(self.port), "--webui-port", str(self.ui_port))  # fmt: skip
            for index in range(self.n_workers):
                work = self.log_dir / f"worker{index}"
                self._start(f"worker{index}", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                            "--cores", str(self.cores), "--memory", self.memory, "--webui-port", str(free_port()),
                            "--work-dir", str(work), self.url)  # fmt: skip
            self._wait_for_workers()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for process in reversed(self.processes):
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
        for log in self.logs:
            log.close()
        self.logs.clear()

    def workers_alive(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as response:
            return sum(worker["state"] == "ALIVE" for worker in json.load(response)["workers"])

    def _start(self, name: str, *command: str) -> None:
        env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_NO_DAEMONIZE": "1"}
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 (closed in __exit__)
        self.logs.append(log)
        self.processes.append(subprocess.Popen([str(SPARK_CLASS), *command], stdout=log, stderr=log, env=env))

    def _wait_for_workers(self) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                raise RuntimeError(f"a Spark process ended at start-up; see the logs in {self.log_dir}")
            try:
                if self.workers_alive() == self.n_workers:
                    return
            except OSError:
                pass
            time.sleep(1)
        raise TimeoutError(f"{self.n_workers} workers did not register in {self.timeout} s; logs in {self.log_dir}")
