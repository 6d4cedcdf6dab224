"""The ``fieldbook`` command: server, client, enroll, user, role, backup, restore, reseed, recycle, ledger,
numbering, demo.

Argument parsing only; the work is done by ``server.cli``, ``client.cli`` and ``scripts.demo``.
Options fall back to environment variables (``FIELDBOOK_DATA``, ``FIELDBOOK_HOST``,
``FIELDBOOK_PORT``, ``FIELDBOOK_SERVER``).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

ROLES = ("boss", "sales_manager", "sales_rep", "warehouse", "purchasing", "finance", "service", "repair",
         "technician", "admin_staff")


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"FIELDBOOK_{name}", default)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fieldbook", description="Fieldbook: the offline-first CRM.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("server", help="run the central server")
    p.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None, help="data directory")
    p.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(_env("PORT", "8800") or 8800))

    p = sub.add_parser("client", help="run the local client (bound to 127.0.0.1)")
    p.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)
    p.add_argument("--port", type=int, default=int(_env("PORT", "8801") or 8801))

    p = sub.add_parser("enroll", help="register this device with the server and run the first full sync")
    p.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)
    p.add_argument("--server", default=_env("SERVER"), required=_env("SERVER") is None, help="server URL")
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--name", default=None, help="device name shown on the server's devices page")
    p.add_argument("--warehouse", default=None, help="warehouse code for a kiosk")

    p = sub.add_parser("user", help="manage users on the server")
    user_sub = p.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create a user")
    add.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)
    add.add_argument("--username", required=True)
    add.add_argument("--password", required=True)
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--department", default=None)
    add.add_argument("--display-name", default=None)
    move = user_sub.add_parser("move", help="put a user in a department (path under the company, e.g. Sales/East)")
    move.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)
    move.add_argument("--username", required=True)
    move.add_argument("--department", required=True)
    for verb in ("grant", "revoke"):
        right = user_sub.add_parser(verb, help=f"{verb} a personal permission (on top of the user's roles)")
        right.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)
        right.add_argument("--username", required=True)
        right.add_argument("--module", required=True)
        right.add_argument("--action", required=True, choices=("view", "edit", "approve"))

    p = sub.add_parser("role", help="roles and the permission matrix on the server")
    role_sub = p.add_subparsers(dest="role_command", required=True)
    listing = role_sub.add_parser("list", help="every role with its members and rights")
    listing.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)
    for verb in ("grant", "revoke"):
        change = role_sub.add_parser(verb, help=f"{verb} a right to a role (--module, --action) or the role to a user (--username)")
        change.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)
        change.add_argument("--role", required=True)
        change.add_argument("--username", default=None)
        change.add_argument("--module", default=None)
        change.add_argument("--action", default=None, choices=("view", "edit", "approve"))

    p = sub.add_parser("backup", help="online backup of the server database (safe while clients sync)")
    p.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)
    p.add_argument("--to", default=None, help="backup directory (default DATA/backups)")
    p.add_argument("--keep", type=int, default=7, help="how many backups to keep (oldest deleted)")

    p = sub.add_parser("restore", help="restore a server backup into a data directory (server stopped)")
    p.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)
    p.add_argument("--from", dest="source", required=True, help="backup file")
    p.add_argument("--yes", action="store_true", help="replace an existing server database")

    p = sub.add_parser("reseed", help="after a server restore: re-send everything this client holds")
    p.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)
    p.add_argument("--server", default=None, help="new server URL for this device")

    p = sub.add_parser("recycle", help="return idle customers to the pool now (the server also runs this daily)")
    p.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)
    p.add_argument("--now", default=None, help="ISO 8601 time to judge idleness at (default: now)")

    p = sub.add_parser("ledger", help="server ledgers")
    ledger_sub = p.add_subparsers(dest="ledger_command", required=True)
    rebuild = ledger_sub.add_parser("rebuild", help="drop and recompute the journal from the approval events")
    rebuild.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)

    p = sub.add_parser("numbering", help="edit a document type's numbering rule (prefix + date part + digits)")
    p.add_argument("--data", default=_env("DATA"), required=_env("DATA") is None)
    p.add_argument("--type", dest="doc_type", required=True, choices=("sales_order", "receipt", "quote"))
    p.add_argument("--prefix", required=True)
    p.add_argument("--date-format", default="YYYYMMDD", choices=("YYYYMMDD", "YYMMDD", "YYYYMM", "none"))
    p.add_argument("--digits", type=int, default=4)

    p = sub.add_parser("demo", help="server + a rep laptop + a warehouse kiosk with demo data")
    p.add_argument("--data", default=_env("DATA", "fieldbook-demo"))
    p.add_argument("--port", type=int, default=8800, help="server port; the clients use the next two")
    p.add_argument("--customers", type=int, default=60)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "server":
            from server.cli import run_server

            run_server(args.data, args.host, args.port)
        elif args.command == "client":
            from client.cli import run_client

            run_client(args.data, args.port)
        elif args.command == "enroll":
            from client.cli import enroll_device

            enroll_device(args.data, args.server, args.username, args.password, name=args.name, warehouse=args.warehouse)
        elif args.command == "user" and args.user_command == "add":
            from server.cli import add_user

            add_user(args.data, args.username, args.password, args.role, department=args.department,
                     display_name=args.display_name)
            print(f"user {args.username} ({args.role}) created")
        elif args.command == "user" and args.user_command == "move":
            from server.cli import move_user

            print(f"user {args.username} moved to {move_user(args.data, args.username, args.department)}")
        elif args.command == "user":
            from server.cli import change_personal_right

            print(change_personal_right(args.data, args.user_command == "grant", args.username, args.module, args.action))
        elif args.command == "role" and args.role_command == "list":
            from server.cli import role_lines

            print("\n".join(role_lines(args.data)))
        elif args.command == "role":
            from server.cli import change_role

            print(change_role(args.data, args.role_command == "grant", args.role, username=args.username,
                              module=args.module, action=args.action))
        elif args.command == "backup":
            from server.backup import create_backup

            print(f"backup written: {create_backup(args.data, args.to, args.keep)}")
        elif args.command == "restore":
            from server.backup import restore_backup

            print(f"restored into {restore_backup(args.source, args.data, overwrite=args.yes)}; every device that"
                  " synced after the backup must run `fieldbook reseed`")
        elif args.command == "reseed":
            from client import db as client_db
            from client.reseed import reseed

            done = reseed(client_db.store_for(args.data), args.server)
            print(f"queued {done.changes} changes of {done.documents} records and {done.events} events;"
                  " the next sync sends them")
        elif args.command == "recycle":
            from server.cli import recycle

            moved = recycle(args.data, args.now)
            print("\n".join(f"{m['name']}\t{m['owner_id']}\t{m['idle_days']}" for m in moved) or "no idle customers")
        elif args.command == "ledger":
            from server.cli import rebuild_ledgers

            rows, debit, credit = rebuild_ledgers(args.data)
            print(f"journal rebuilt: {rows} rows, debit {debit / 100:.2f} = credit {credit / 100:.2f}")
        elif args.command == "numbering":
            from server.cli import set_numbering

            fmt = "" if args.date_format == "none" else args.date_format
            print(set_numbering(args.data, args.doc_type, args.prefix, fmt, args.digits))
        elif args.command == "demo":
            from scripts.demo import run_demo

            return run_demo(args.data, args.port, args.customers)
    except (ValueError, PermissionError, ConnectionError) as exc:
        print(f"fieldbook: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
