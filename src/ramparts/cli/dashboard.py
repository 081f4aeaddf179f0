"""``ramparts server user add|list|remove``: the people who sign in to the dashboard."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def add_user_parsers(
    srv: Any, common: Callable[..., None], db: Callable[[argparse.ArgumentParser], None]
) -> None:
    users = srv.add_parser("user", help="the dashboard's users (admin or viewer)").add_subparsers(
        metavar="ACTION"
    )
    u = users.add_parser("add", help="add a person, or set their role and password (argon2id hash kept)")
    common(u, policy=False)
    db(u)
    u.add_argument("name")
    u.add_argument("--role", choices=["admin", "viewer"], required=True)
    u.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    u.set_defaults(func=cmd_user_add)
    u = users.add_parser("list", help="the dashboard's users and roles")
    common(u, policy=False)
    db(u)
    u.set_defaults(func=cmd_user_list)
    u = users.add_parser("remove", help="remove a person (their sessions end)")
    common(u, policy=False)
    db(u)
    u.add_argument("name")
    u.set_defaults(func=cmd_user_remove)


def _users(args: argparse.Namespace) -> Any:
    from .._locations import state_dir
    from ..server.dashboard.users import Users
    from ..server.store import ServerStore

    store = ServerStore.open(state_dir(args.state_dir), url=args.db)
    return store, Users(store)


def cmd_user_add(args: argparse.Namespace) -> int:
    from ..server.dashboard.users import UserError

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("ramparts server user add: the passwords differ", file=sys.stderr)
            return EXIT_USAGE
    store, users = _users(args)
    try:
        users.add(args.name, args.role, password)
    except UserError as exc:
        print(f"ramparts server user add: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    print(f"dashboard user {args.name} ({args.role}) saved")
    return EXIT_OK


def cmd_user_list(args: argparse.Namespace) -> int:
    import time

    store, users = _users(args)
    try:
        for name, role, created in users.list():
            print(f"{name}  {role:6}  {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(created))}")
    finally:
        store.close()
    return EXIT_OK


def cmd_user_remove(args: argparse.Namespace) -> int:
    store, users = _users(args)
    try:
        if not users.remove(args.name):
            print(f"ramparts: no dashboard user {args.name}", file=sys.stderr)
            return EXIT_PROBLEMS
    finally:
        store.close()
    print(f"removed dashboard user {args.name}")
    return EXIT_OK
