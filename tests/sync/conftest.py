"""Fixtures for the sync tests: fresh in-memory stores and worlds per test."""
from __future__ import annotations

import pytest
import sqlite_utils

from shared.schemas import REGISTRY
from sync import ManualClock, ReplicaStore, ServerStore
from sync_testkit import World


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(params=["replica", "server"])
def store(request: pytest.FixtureRequest, clock: ManualClock) -> ReplicaStore:
    """Each store implementation, so one contract class runs against both."""
    cls = ReplicaStore if request.param == "replica" else ServerStore
    return cls(sqlite_utils.Database(memory=True), REGISTRY, clock)


@pytest.fixture
def world() -> World:
    return World()
