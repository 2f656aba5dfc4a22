"""The ``leadeval`` command line: `validate`, `synth` (and `report` when it lands).

User errors (any :class:`~leadeval.errors.LeadevalError`) print a clear message, no traceback, and
exit with code 2.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console

from leadeval import __version__
from leadeval.errors import LeadevalError

app = typer.Typer(
    name="leadeval",
    help="Evaluate LEAD and similar pre-booking diversion programs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def user_errors_exit_2(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a LeadevalError into a one-paragraph message on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LeadevalError as err:
            err_console.print(f"[bold red]{type(err).__name__}[/]: {err}", highlight=False, markup=True)
            raise typer.Exit(2) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        console.print(f"leadeval {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """leadeval: matched comparisons, outcome models, costs and reports for diversion programs."""
