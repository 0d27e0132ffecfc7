"""``borderfusion users add NAME --role R``: print a users-file entry (hashes only)."""

from __future__ import annotations

import argparse
import getpass
import sys

import yaml

from streams.commands.common import command_group, formatter


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    _, usub = command_group(
        sub,
        "users",
        dest="users_command",
        metavar="ACTION",
        help="make entries for the web users file (BORDERFUSION_USERS_FILE)",
        description="Web UI and REST users. `users add` prints a YAML entry for the users\n"
        "file; only the PBKDF2 password hash and the SHA-256 of the token are\n"
        "printed, so the file holds no secret. Roles: coordinator (view + ack/\n"
        "dismiss/escalate), analyst (view only), admin (all, + /metrics),\n"
        "metrics (only /metrics, for Prometheus), gateway (nothing on the web).",
        epilog="examples:\n"
        "  borderfusion users add alice --role coordinator >> users.yaml\n"
        '  echo "$PW" | borderfusion users add bob --role analyst --password-stdin\n'
        "  borderfusion users add prometheus --role metrics --token\n"
        "The file starts with `users:`; entries go below it.",
    )
    a = usub.add_parser(
        "add",
        help="print a users-file entry",
        formatter_class=formatter(),
        description="Print one users-file entry on stdout (YAML list item, indented to go\n"
        "under `users:`). The password is prompted for twice (8 characters at least)\n"
        "unless --password-stdin or --no-password; a --token is printed once on stderr.",
        epilog="examples:\n"
        "  borderfusion users add alice --role coordinator >> users.yaml\n"
        '  echo "$PW" | borderfusion users add bob --role analyst --password-stdin >> users.yaml\n'
        "  borderfusion users add prometheus --role metrics --no-password --token >> users.yaml",
    )
    a.add_argument("name", help="user name (login)")
    a.add_argument(
        "--role",
        required=True,
        choices=("coordinator", "analyst", "gateway", "admin", "metrics"),
        help="what the user may do (see `borderfusion users --help`)",
    )
    a.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin instead of prompting",
    )
    a.add_argument("--no-password", action="store_true", help="token-only user")
    a.add_argument(
        "--token", action="store_true", help="also generate a bearer token (printed once on stderr)"
    )
    a.set_defaults(func=run_add)


def run_add(args: argparse.Namespace) -> int:
    from streams.web.auth import new_token, user_entry

    password = None
    if not args.no_password:
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass(f"password for {args.name}: ")
            if password != getpass.getpass("again: "):
                print("passwords differ", file=sys.stderr)
                return 1
        if len(password) < 8:
            print("password too short (8 characters at least)", file=sys.stderr)
            return 1
    token = new_token() if args.token else None
    if password is None and token is None:
        print("a user needs a password or a --token", file=sys.stderr)
        return 1
    entry = user_entry(args.name, args.role, password, token)
    dumped = yaml.safe_dump([entry], sort_keys=False, width=200)
    sys.stdout.write("".join(f"  {line}\n" for line in dumped.splitlines()))
    if token:
        print(f"bearer token for {args.name} (shown once): {token}", file=sys.stderr)
    return 0
