"""The ``scimitar`` command line: a thin layer over the packages, one module per family.

To add a command family, write ``scimitar/cli/<family>.py`` defining a click command
or group and add one line to ``COMMANDS``. Modules are imported only when their
command runs (or ``--help`` lists them), so ``scimitar token list`` does not pay
for importing the web server.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from scimitar import __version__

# Command name -> "module:attribute" of its click command or group.
COMMANDS: dict[str, str] = {
    "serve": "scimitar.cli.serve:serve",
    "db": "scimitar.cli.db:db",
    "tenant": "scimitar.cli.tenants:tenant",
    "token": "scimitar.cli.tokens:token",
    "directory": "scimitar.cli.directory:directory",
    "app": "scimitar.cli.apps:app",
    "sync": "scimitar.cli.sync:sync",
    "provision": "scimitar.cli.sync:provision",
    "logs": "scimitar.cli.logs:logs",
    "demo": "scimitar.cli.demo:demo",
}


class LazyGroup(click.Group):
    """A group that imports each command's module on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = self.lazy[cmd_name].partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        # "Never a traceback": anything a command did not turn into a ClickException
        # still ends as one line on stderr and exit status 1.
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            from scimitar.cli.options import describe_error

            raise click.ClickException(describe_error(exc)) from exc


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="scimitar")
def main() -> None:
    """Open, self-hosted SCIM 2.0: a SCIM server and a provisioning engine."""
