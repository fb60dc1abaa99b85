"""Subcommands of the ``imaging-triage`` console script, one module each.

Each module defines ``add_arguments(parser)`` and ``run(args) -> int`` and a
``main(argv=None) -> int`` for direct use; each is a thin layer over library functions.
"""
