"""Every option of every subcommand says what it does (argparse help text), and units are one spelling."""

import argparse

from bench.cli import build_parser


def _actions(parser, path):
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            for name, sub in a.choices.items():
                yield from _actions(sub, path + [name])
        elif not isinstance(a, (argparse._HelpAction, argparse._VersionAction)):
            yield " ".join(path), a


def test_every_option_has_help():
    missing = [
        f"{where} {a.option_strings or a.dest}"
        for where, a in _actions(build_parser(), ["archbench"])
        if a.help is None or (a.help != argparse.SUPPRESS and not a.help.strip())
    ]
    assert not missing, missing


def test_memory_is_spelled_mib_everywhere_in_the_schema():
    from bench import schema

    units = {c.unit for c in schema.COLUMNS if c.name.endswith("_mb")}
    assert units == {"MiB"}
