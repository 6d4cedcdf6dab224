from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from .harness import Api, Cluster

REP = ("lina", "lina-pass-1", "sales_rep")
MANAGER = ("zhang", "zhang-pass-1", "sales_manager")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def two_devices(cluster: Cluster) -> tuple[Cluster, Api, Api]:
    """A rep's laptop (A) and a manager's laptop (B), both enrolled and running."""
    for username, password, role in (REP, MANAGER):
        cluster.add_user(username, password, role)
    a = cluster.enroll("laptop_a", REP[0], REP[1])
    b = cluster.enroll("laptop_b", MANAGER[0], MANAGER[1])
    return cluster, Api(a.url, REP[0], REP[1]), Api(b.url, MANAGER[0], MANAGER[1])
