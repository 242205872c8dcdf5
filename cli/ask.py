"""The setup wizard's questions: Rich prompts that offer the current value as the default, say why an
answer was refused and ask again, and read the token without echoing it.

An answer is checked by the same rules as config.toml (`quranbot.config.rules`), so the wizard refuses
exactly what `config set` and `setup --no-prompt` refuse, with the same reason. Input that ends (EOF)
raises EOFError for the caller to turn into "nothing was written".
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO, TypeVar

from rich.console import Console
from rich.markup import escape
from rich.prompt import Confirm, Prompt
from rich.text import Text, TextType

from quranbot.cli.output import out
from quranbot.config.rules import BadValue
from quranbot.config.schema import ConfigError
from quranbot.config.token import TokenError

T = TypeVar("T")


class HiddenPrompt(Prompt):
    """A prompt whose answer is not echoed.

    On a terminal that is getpass (through Rich). Otherwise the answer is piped in (a script, a test),
    so it is read from stdin: getpass would open /dev/tty and wait there instead of reading the pipe.
    """

    @classmethod
    def get_input(
        cls, console: Console, prompt: TextType, password: bool, stream: TextIO | None = None
    ) -> str:
        if sys.stdin.isatty():
            return console.input(prompt, password=True, stream=stream)
        console.print(prompt, end="")
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        console.print()
        return line.rstrip("\r\n")


def ask(question: str, check: Callable[[str], T], default: str | None = None, hidden: bool = False) -> T:
    """Ask until `check` accepts the answer; Enter alone gives `default` (shown in brackets)."""
    kind = HiddenPrompt if hidden else Prompt
    while True:
        prompt = Text.from_markup(question)
        if default is None:
            answer = kind.ask(prompt, console=out)
        else:
            answer = kind.ask(prompt, console=out, default=default, show_default=not hidden)
        try:
            return check(answer)
        except (BadValue, ConfigError, TokenError) as exc:
            out.print(f"  [red]✗[/] {escape(str(exc))}", soft_wrap=True)


def yes_no(question: str, default: bool) -> bool:
    return Confirm.ask(Text.from_markup(question), console=out, default=default)
