"""The emulator in a process of its own, as Amazon is another machine: what benchmarks time is then the pipeline's
work alone, not the emulator's serving from the same interpreter."""

from __future__ import annotations

import subprocess
import sys


class EmulatorProcess:
    """`python -m amazon_orders_pipeline.emulator` with these options (`--speed`, `--seed`, ... as keywords with
    underscores), serving until the block ends. `url` is where it listens."""

    def __init__(self, **options: object):
        self.args = [sys.executable, "-m", "amazon_orders_pipeline.emulator", "--port", "0"]
        for name, value in options.items():
            self.args += [f"--{name.replace('_', '-')}", str(value)]
        self.proc: subprocess.Popen | None = None
        self.url = ""

    def start(self) -> EmulatorProcess:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True)
        self.url = (self.proc.stdout.readline() if self.proc.stdout else "").strip()
        if not self.url.startswith("http"):
            self.stop()
            raise RuntimeError(f"the emulator did not start: {' '.join(self.args)}")
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
