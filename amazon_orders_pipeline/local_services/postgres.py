"""A throwaway PostgreSQL cluster from Debian's `postgresql` package (initdb, pg_ctl) on a free loopback port: the
DuckLake catalog and the Dagster instance of the production profile in tests, the demo and the benchmarks.

Why Debian's server and not the `pgserver` wheel: the machines have PostgreSQL 15 from Debian (`make` installs it
where it is missing), it is the server a production host runs, and its tools are the documented way to make a
cluster. initdb refuses to run as root, so as root the cluster belongs to the `postgres` user that the package
creates. Trust authentication on loopback only: the cluster lives in a temporary folder for one test session."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from amazon_orders_pipeline.local_services import free_port

USER = "lake"


def bin_dir() -> Path:
    """The newest installed PostgreSQL's programs (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL's initdb was not found: install Debian's postgresql package "
                       "(apt-get install postgresql; `make test` does it)")


@dataclass(frozen=True)
class Cluster:
    host: str
    port: int
    user: str = USER

    def conninfo(self, dbname: str) -> str:
        """A libpq connection string (the DuckLake catalog's form)."""
        return f"dbname={dbname} host={self.host} port={self.port} user={self.user}"

    def create_database(self, name: str) -> str:
        subprocess.run([str(bin_dir() / "createdb"), "-h", self.host, "-p", str(self.port), "-U", self.user, name],
                       check=True, capture_output=True)
        return name

    def dagster_env(self, dbname: str) -> dict[str, str]:
        """The variables the production dagster.yaml reads (dagster.production.yaml)."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
                "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": dbname}


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def postgres_cluster() -> Iterator[Cluster]:
    """A new cluster in a new folder of its own under the system's temporary folder (pytest's folders are private
    to their user, which the `postgres` user cannot enter), running until the block ends; then stopped and gone."""
    workdir = Path(tempfile.mkdtemp(prefix="aop-postgres-"))
    data = workdir / "pgdata"
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
    bins = bin_dir()
    subprocess.run(_as_owner([str(bins / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
                              "--no-instructions"]), check=True, capture_output=True)
    port = free_port()
    options = (f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off -c max_connections=200")
    started = subprocess.run(_as_owner([str(bins / "pg_ctl"), "-D", str(data), "-o", options,
                                        "-l", str(workdir / "postgres.log"), "-w", "start"]), capture_output=True)
    if started.returncode != 0:
        log = (workdir / "postgres.log").read_text(errors="replace")[-2000:] if (workdir / "postgres.log").exists() \
            else ""
        raise RuntimeError(f"PostgreSQL did not start: {started.stderr.decode(errors='replace')}\n{log}")
    try:
        yield Cluster("127.0.0.1", port)
    finally:
        subprocess.run(_as_owner([str(bins / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(workdir, ignore_errors=True)
