"""`lds --help` and `lds <command> --help` read like the README: every subcommand has a description and an
epilog, and every example it shows is a valid invocation (parsed here, so none goes stale)."""

from __future__ import annotations

import argparse
import shlex

import pytest

from lds.cli import EXAMPLES, parser


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    ap = parser()
    sub = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def test_every_subcommand_has_a_description_and_examples():
    commands = _subcommands()
    assert set(EXAMPLES) == set(commands), "add the new command's examples to lds.cli.EXAMPLES"
    for name, cmd in commands.items():
        text = cmd.format_help()
        assert cmd.description and cmd.description[0].isupper(), name
        assert "examples:\n  lds " + name in text, name
        assert "LDS_" in text, name


@pytest.mark.parametrize("line", [line for lines in EXAMPLES.values() for line in lines])
def test_examples_parse(line):
    words = shlex.split(line.split(" > ")[0].replace("<token>", "tk_example"))
    assert words[0] == "lds"
    args = parser().parse_args(words[1:])
    assert args.command == words[1]


def test_top_level_help_lists_examples(capsys):
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "lds route 7.4197,43.7311" in out and "/openapi.json" in out
