"""Plain functions behind ``fieldbook enroll`` and ``fieldbook client`` (the lead's CLI calls them).

They print for a person at a terminal and return an exit status; argument parsing lives in
``scripts/cli.py``.
"""
from __future__ import annotations

import logging
from typing import Any

from sync.errors import SyncError, TransportUnavailable

from . import create_app, db
from .enrollment import enroll


def enroll_device(data_dir: str, server_url: str, username: str, password: str,
                  name: str | None = None, warehouse: str | None = None) -> dict[str, Any] | None:
    """Enroll the client in ``data_dir`` and run the first sync; print and return the report.

    Raises ``ConnectionError`` when the server cannot be reached (nothing saved),
    ``PermissionError`` when it refuses, ``ValueError`` when already enrolled. If only the first
    sync fails, the device stays enrolled, a note is printed and None is returned.
    """
    store = db.store_for(data_dir)
    device = db.get_device(store)
    if device is not None:
        raise ValueError(f"{data_dir} is already enrolled with {device['server_url']}")
    try:
        report = enroll(store, server_url, username, password, name=name, warehouse=warehouse)
    except TransportUnavailable as exc:
        if db.get_device(store) is None:
            raise ConnectionError(f"cannot reach {server_url}: {exc}") from exc
        print(f"enrolled; the first sync could not reach the server ({exc}) and will be retried by the client")
        return None
    except SyncError as exc:
        if db.get_device(store) is None:
            raise PermissionError(f"the server refused the enrollment: {exc.message}") from exc
        print(f"enrolled; the first sync was refused ({exc.code}: {exc.message})")
        return None
    print("enrolled; first sync: " + ", ".join(f"{k}={v}" for k, v in report.items()), flush=True)
    return report


def run_client(data_dir: str, port: int = 5000, host: str = "127.0.0.1", **config: Any) -> None:
    """Serve the client with waitress on loopback, with the sync worker running."""
    import waitress

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app({"DATA_DIR": data_dir, "START_WORKER": True, **config})
    print(f"Fieldbook client: http://{host}:{port}/  (data in {app.config['DATA_DIR']})", flush=True)
    try:
        waitress.serve(app, host=host, port=port, threads=8, ident="fieldbook-client")
    finally:
        app.extensions["fieldbook_worker"].stop()
