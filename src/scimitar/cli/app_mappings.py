"""``scimitar app mapping`` and ``app scoping-filter``: what is written, and for whom.

Also the helpers every ``app`` subcommand shares: error reporting, and saving a
settings change with a word on whether the next cycle starts over.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import IO, Any

import click
from sqlalchemy import Engine

from scimitar.cli.options import database_option, open_database
from scimitar.provisioning import apps as registry
from scimitar.provisioning.app_settings import AppSettings
from scimitar.provisioning.apps import App, AppError
from scimitar.provisioning.mappings import (
    OBJECT_TYPES,
    ApplyOn,
    Mapping,
    MappingError,
    ObjectType,
    SourceType,
    export_mappings,
    find_mapping,
    import_mappings,
    remove_mapping,
    restore_defaults,
    set_mapping,
    target_key,
)
from scimitar.provisioning.scoping import ScopingError, parse_filter
from scimitar.provisioning.secrets import SecretKeyError


@contextmanager
def errors() -> Iterator[None]:
    """Turn a refused operation into one line on stderr and exit status 1."""
    try:
        yield
    except (AppError, MappingError, ScopingError, SecretKeyError) as exc:
        raise click.ClickException(str(exc)) from exc


def _warn(warnings: list[str]) -> None:
    for warning in dict.fromkeys(warnings):
        click.echo(f"warning: {warning}", err=True)


def edit_settings(
    engine: Engine,
    name: str,
    edit: Callable[[AppSettings], AppSettings],
    done: str | Callable[[App], str],
) -> App:
    """Save a settings change, report it, and say when the next cycle starts over."""
    before = registry.get_app(engine, name)
    saved, warnings = registry.update_settings(engine, name, edit)
    _warn(warnings)
    click.echo(done if isinstance(done, str) else done(saved))
    if saved.config_version != before.config_version:
        click.echo(
            "the configuration changed what is provisioned: the next cycle is an initial one"
        )
    return saved


def _object_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--object",
        "kind",
        type=click.Choice(OBJECT_TYPES),
        default="user",
        show_default=True,
        help="Users or groups.",
    )(command)


def describe_filters(settings: AppSettings, kind: ObjectType) -> list[str]:
    filters = settings.scoping_filters[kind]
    if not filters:
        return [f"{kind} scoping filters: none (every {kind} in scope passes)"]
    lines = [f"{kind} scoping filters (any one must hold; all its clauses must):"]
    lines += [f"  {number}. {item}" for number, item in enumerate(filters, start=1)]
    return lines


# -- mappings -------------------------------------------------------------------------


@click.group("mapping")
def mapping() -> None:
    """Attribute mappings: what each target attribute is filled from."""


@mapping.command("list")
@click.argument("name")
@_object_option
@click.option("--all", "show_all", is_flag=True, help="Also list offered, unmapped targets.")
@database_option
def mapping_list(name: str, kind: ObjectType, show_all: bool, database_url: str) -> None:
    """List the app's mappings for users (or groups), one a line."""
    engine = open_database(database_url)
    with errors():
        shown = registry.get_app(engine, name)
    mappings = shown.settings.mappings[kind]
    for item in mappings:
        click.echo(str(item))
    if not show_all:
        return
    offered = shown.gallery_app.target_attributes
    if offered is None:
        click.echo(f"{shown.gallery_app.display_name} accepts any SCIM attribute path as a target")
        return
    mapped = {target_key(m.target) for m in mappings}
    for attribute in offered[kind]:
        if target_key(attribute.name) not in mapped:
            click.echo(f"{attribute.name} ({attribute.type}, not mapped)")


@mapping.command("set")
@click.argument("name")
@_object_option
@click.option(
    "--target", required=True, help='The target attribute, e.g. title or "name.givenName".'
)
@click.option("--source", metavar="ATTRIBUTE", help="Direct: a directory attribute.")
@click.option("--constant", metavar="TEXT", help="Constant: this text.")
@click.option("--expression", metavar="EXPR", help="Expression: Entra's expression language.")
@click.option("--matching-precedence", type=click.IntRange(min=1), help="Match objects on it.")
@click.option("--not-matching", is_flag=True, help="Stop matching objects on it.")
@click.option("--apply", "apply_on", type=click.Choice(["always", "create"]), help="When.")
@click.option("--default", "default_value", metavar="TEXT", help="Value when the source is empty.")
@click.option("--no-default", is_flag=True, help="Drop the default value.")
@database_option
def mapping_set(
    name: str,
    kind: ObjectType,
    target: str,
    source: str | None,
    constant: str | None,
    expression: str | None,
    matching_precedence: int | None,
    not_matching: bool,
    apply_on: ApplyOn | None,
    default_value: str | None,
    no_default: bool,
    database_url: str,
) -> None:
    """Add or change the mapping of one target attribute.

    Options left out keep the mapping's current values. A matching precedence
    inserts: mappings at or after it move down one.
    """
    given: tuple[tuple[SourceType, str | None], ...] = (
        ("direct", source),
        ("constant", constant),
        ("expression", expression),
    )
    sources = [(kind_of_source, text) for kind_of_source, text in given if text is not None]
    if len(sources) > 1:
        raise click.UsageError("give one of --source, --constant and --expression")
    if matching_precedence is not None and not_matching:
        raise click.UsageError("--matching-precedence and --not-matching contradict each other")
    if default_value is not None and no_default:
        raise click.UsageError("--default and --no-default contradict each other")
    engine = open_database(database_url)
    with errors():
        current = find_mapping(registry.get_app(engine, name).settings.mappings[kind], target)
        if sources:
            source_type, value = sources[0]
        elif current is not None:
            source_type, value = current.source_type, current.source
        else:
            raise click.UsageError(
                f"{target!r} is not mapped yet: give --source, --constant or --expression"
            )
        precedence = current.matching_precedence if current else None
        if matching_precedence is not None or not_matching:
            precedence = matching_precedence
        default = current.default_value if current else None
        if default_value is not None or no_default:
            default = default_value
        new = Mapping(
            target=current.target if current else target,
            source_type=source_type,
            source=value,
            matching_precedence=precedence,
            apply_on=apply_on or (current.apply_on if current else "always"),
            default_value=default,
        )

        def edit(settings: AppSettings) -> AppSettings:
            updated = set_mapping(settings.mappings[kind], new)
            return replace(settings, mappings={**settings.mappings, kind: updated})

        edit_settings(
            engine,
            name,
            edit,
            lambda saved: (
                f"{kind} mapping saved: {find_mapping(saved.settings.mappings[kind], target)}"
            ),
        )


@mapping.command("remove")
@click.argument("name")
@_object_option
@click.option("--target", required=True, help="The target attribute whose mapping goes.")
@database_option
def mapping_remove(name: str, kind: ObjectType, target: str, database_url: str) -> None:
    """Remove the mapping of one target attribute (it is then left unmanaged)."""
    engine = open_database(database_url)

    def edit(settings: AppSettings) -> AppSettings:
        updated = remove_mapping(settings.mappings[kind], target)
        return replace(settings, mappings={**settings.mappings, kind: updated})

    with errors():
        edit_settings(engine, name, edit, f"removed the {kind} mapping of {target}")


@mapping.command("export")
@click.argument("name")
@click.option("--output", type=click.File("w"), default="-", help="File (default: stdout).")
@database_option
def mapping_export(name: str, output: IO[str], database_url: str) -> None:
    """Write the app's mappings and scoping filters as JSON, for `mapping import`."""
    engine = open_database(database_url)
    with errors():
        document = export_mappings(registry.get_app(engine, name))
    output.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")


@mapping.command("import")
@click.argument("name")
@click.argument("file", type=click.File("r"))
@database_option
def mapping_import(name: str, file: IO[str], database_url: str) -> None:
    """Replace the app's mappings (and scoping filters) with those in FILE ('-': stdin)."""
    try:
        data = json.load(file)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{file.name} is not JSON: {exc}") from exc
    engine = open_database(database_url)
    with errors():
        document = import_mappings(data)

        def edit(settings: AppSettings) -> AppSettings:
            return replace(
                settings,
                mappings={**settings.mappings, **document.mappings},
                scoping_filters={**settings.scoping_filters, **document.scoping_filters},
            )

        kinds = " and ".join(document.mappings)
        edit_settings(engine, name, edit, f"imported {kinds} mappings from {file.name}")


@mapping.command("restore-defaults")
@click.argument("name")
@click.option(
    "--object", "kind", type=click.Choice(OBJECT_TYPES), help="Only this (default: both)."
)
@database_option
def mapping_restore(name: str, kind: ObjectType | None, database_url: str) -> None:
    """Restore the gallery's default mappings and drop scoping filters, as Entra does."""
    engine = open_database(database_url)
    kinds: tuple[ObjectType, ...] = (kind,) if kind else OBJECT_TYPES
    with errors():
        defaults = restore_defaults(registry.get_app(engine, name).gallery_app)

        def edit(settings: AppSettings) -> AppSettings:
            return replace(
                settings,
                mappings={**settings.mappings, **{k: defaults[k] for k in kinds}},
                scoping_filters={**settings.scoping_filters, **dict.fromkeys(kinds, ())},
            )

        edit_settings(engine, name, edit, f"restored the default {' and '.join(kinds)} mappings")


# -- scoping filters ------------------------------------------------------------------


@click.group("scoping-filter")
def scoping_filter() -> None:
    """Attribute scoping filters: clauses AND within a filter, filters OR."""


@scoping_filter.command("list")
@click.argument("name")
@_object_option
@database_option
def filter_list(name: str, kind: ObjectType, database_url: str) -> None:
    """List the app's scoping filters, numbered."""
    engine = open_database(database_url)
    with errors():
        shown = registry.get_app(engine, name)
    click.echo("\n".join(describe_filters(shown.settings, kind)))


@scoping_filter.command("add")
@click.argument("name")
@_object_option
@click.option(
    "--clause",
    "clauses",
    multiple=True,
    required=True,
    metavar="'ATTRIBUTE OPERATOR [VALUE]'",
    help="e.g. 'department EQUALS Sales'; repeat for more clauses (all must hold).",
)
@database_option
def filter_add(name: str, kind: ObjectType, clauses: tuple[str, ...], database_url: str) -> None:
    """Add a scoping filter; an object passes when all its clauses hold.

    Operators: EQUALS, NOT EQUALS, IS TRUE, IS FALSE, IS NULL, IS NOT NULL, REGEX MATCH,
    NOT REGEX MATCH, Greater_Than, Greater_Than_OR_EQUALS, Includes, ENDS_WITH, &, !&.
    """
    engine = open_database(database_url)
    with errors():
        new = parse_filter(clauses)

        def edit(settings: AppSettings) -> AppSettings:
            updated = (*settings.scoping_filters[kind], new)
            return replace(settings, scoping_filters={**settings.scoping_filters, kind: updated})

        edit_settings(engine, name, edit, f"added {kind} scoping filter: {new}")


@scoping_filter.command("remove")
@click.argument("name")
@click.argument("number", type=click.IntRange(min=1))
@_object_option
@database_option
def filter_remove(name: str, number: int, kind: ObjectType, database_url: str) -> None:
    """Remove scoping filter NUMBER (as `scoping-filter list` numbers them)."""
    engine = open_database(database_url)

    def edit(settings: AppSettings) -> AppSettings:
        filters = settings.scoping_filters[kind]
        if number > len(filters):
            raise AppError(f"there is no {kind} scoping filter {number} (there are {len(filters)})")
        updated = filters[: number - 1] + filters[number:]
        return replace(settings, scoping_filters={**settings.scoping_filters, kind: updated})

    with errors():
        edit_settings(engine, name, edit, f"removed {kind} scoping filter {number}")


@scoping_filter.command("clear")
@click.argument("name")
@_object_option
@database_option
def filter_clear(name: str, kind: ObjectType, database_url: str) -> None:
    """Remove every scoping filter (everyone in scope passes)."""
    engine = open_database(database_url)

    def edit(settings: AppSettings) -> AppSettings:
        return replace(settings, scoping_filters={**settings.scoping_filters, kind: ()})

    with errors():
        edit_settings(engine, name, edit, f"removed every {kind} scoping filter")
