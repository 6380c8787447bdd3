"""`gvmgen demo` (placeholder until its issue lands; the owner replaces this module)."""

from gvmgen.errors import GVMGenError


def add_parser(subparsers, help_text: str) -> None:
    subparsers.add_parser("demo", help=help_text, description=help_text)


def run(args) -> int:
    raise GVMGenError("'gvmgen demo' is not built yet")
