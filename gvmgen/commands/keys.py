"""`gvmgen keys generate`: CURVE keys, so the backend may listen beyond loopback."""

from __future__ import annotations

import argparse


def add_parser(subparsers, help_text: str) -> None:
    from gvmgen.commands.serve import add_data_dir_option

    parser = subparsers.add_parser(
        "keys",
        help=help_text,
        description="Make the CURVE key pairs that encrypt and authenticate backend traffic. "
        "`gvmgen serve --bind` to a non-loopback address refuses to start without them.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    generate = actions.add_parser("generate", help="write a server and a client key pair")
    add_data_dir_option(generate)
    generate.add_argument("--force", action="store_true", help="replace existing keys")


def run(args: argparse.Namespace) -> int:
    from gvmgen_backend.datadir import resolve_data_dir
    from gvmgen_backend.security import generate_keys

    files = generate_keys(resolve_data_dir(args.data_dir), force=args.force)
    print(f"server key pair: {files.server_secret} (public: {files.folder / 'server.key'})")
    print(f"client key pair: {files.client_secret} (public: {files.folder / 'client.key'})")
    print(f"accepted client keys: {files.authorized}/ (copy other clients' .key files here)")
    print(
        "a client on another machine needs client.key_secret and server.key in its data dir's "
        "curve/ folder, plus the data dir's key file"
    )
    return 0
