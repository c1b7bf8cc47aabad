"""Options declared once: a pydantic model's fields become a Typer command's options, and its errors one line.

A stage declares its options as a pydantic model (type, default, bounds, description). :func:`cli_command`
turns the fields into ``--kebab-case`` options (help = description, ``--x/--no-x`` for booleans, a comma
list for list fields, choices of a ``Literal`` listed in the help); the command validates what it got with the
same model, so a bound (``width >= 1``) holds on the command line, in ``synthmed run``'s YAML and in Python
alike. ``json_schema_extra`` keys: ``"cli": False`` leaves a field off the command line; ``"flag"`` names its
option; ``"cli_default"`` is its default there when it differs from the model's (a source the user names);
``"comma": True`` makes a list field one text option, a comma list whose default shows as typed
(``--ratios 0,25,50``); ``"envvar"`` lets an environment variable give the value; ``"cache_key": False``
(``NOT_IN_KEY``) leaves it out of the pipeline's cache keys.

:func:`optional_copy` makes the "further options" models the pipeline's YAML nests (every field optional,
``None`` = the stage's own default, unknown keys refused).
"""

from __future__ import annotations

import inspect
import math
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo
from rich.markup import escape

from synthmed.errors import SynthmedError

# A field marked so is not part of the pipeline's cache keys: it says how a stage runs (workers, threads) or
# where its input lies (the source's content is in the prepare key instead), not what it computes.
NOT_IN_KEY: dict[str, Any] = {"cache_key": False}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def cli_fields(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """The fields of ``model`` that are command-line options."""
    return {n: f for n, f in model.model_fields.items() if (f.json_schema_extra or {}).get("cli", True)}


def _choices(annotation: Any) -> tuple | None:
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is Literal:
            return typing.get_args(arg)
    return None


def _is_list(annotation: Any) -> bool:
    return any(typing.get_origin(a) is list for a in (annotation, *typing.get_args(annotation)))


def _cli_type(annotation: Any) -> Any:
    """The type Typer parses: plain int/float/str/bool; Literals, lists and mixed unions arrive as text, which
    the model checks and converts."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    args = [a for a in typing.get_args(annotation) if a is not type(None)] if union else [annotation]
    args = [typing.get_args(a)[0] if typing.get_origin(a) is Annotated else a for a in args]
    optional = union and len(args) < len(typing.get_args(annotation))
    if len(args) == 1 and _is_list(args[0]):
        return list[str] | None  # repeatable, each value may be a comma list
    choices = _choices(args[0]) if len(args) == 1 else None
    if choices and all(isinstance(c, int) and not isinstance(c, bool) for c in choices):
        return int | None if optional else int  # Literal[1, 3]: the model refuses "3" as text
    base = args[0] if len(args) == 1 and args[0] in (int, float, str, bool, Path) else str
    if base is bool and not optional:
        return bool
    return base | None if optional else base


def _extra(field: FieldInfo) -> dict[str, Any]:
    return field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}


def _comma(field: FieldInfo) -> bool:
    return bool(_extra(field).get("comma")) and _is_list(field.annotation)


def _comma_text(values: list) -> str:
    return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def _option(name: str, field: FieldInfo) -> inspect.Parameter:
    annotation = str if _comma(field) else _cli_type(field.annotation)
    help_text = field.description or ""
    choices = _choices(field.annotation)
    if choices and str(choices[0]) not in help_text:
        # Typer renders help as rich markup: a bare "[a | b]" would vanish
        help_text += escape(f" [{' | '.join(map(str, choices))}]")
    default = ... if field.is_required() else _extra(field).get("cli_default",
                                                                 field.get_default(call_default_factory=True))
    cli_name = _extra(field).get("flag", name)
    decl = f"{flag(cli_name)}/--no-{cli_name.replace('_', '-')}" if annotation is bool else flag(cli_name)
    if _comma(field):
        default = default if default is ... or default is None else _comma_text(default)
    elif _is_list(field.annotation):
        default = None if not default else [str(v) for v in default]
    elif default is not ... and annotation is not bool and default is not None \
            and not isinstance(default, int | float | str):
        default = str(default)
    option = typer.Option(default, decl, help=help_text, show_default=default not in (None, ...),
                          envvar=_extra(field).get("envvar"))
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=option)


def cli_command(model: type[BaseModel], run: Callable[..., Any], *, extra: list[inspect.Parameter] = (),
                doc: str | None = None, name: str = "command",
                also: type[BaseModel] | None = None) -> Callable[..., Any]:
    """A Typer command with one option per CLI field of ``model`` and of ``also`` (fields ``model`` takes by name
    through a validator, e.g. the generator families' own options), plus ``extra``; it calls
    ``run(values, **extras)`` with ``values`` the given field values (lists split at commas), unvalidated:
    ``run`` builds the model with :func:`validate`."""
    fields = {**cli_fields(model), **(cli_fields(also) if also is not None else {})}
    params = [_option(n, f) for n, f in fields.items()] + list(extra)
    extra_names = {p.name for p in extra}

    def command(**kwargs: Any) -> Any:
        values = {k: v for k, v in kwargs.items() if k not in extra_names}
        for k, v in list(values.items()):
            if _comma(fields[k]) and v is not None:
                values[k] = [w.strip() for w in v.split(",") if w.strip()]
            elif _is_list(fields[k].annotation):
                if v is None:
                    del values[k]  # not given: the model's default
                else:
                    values[k] = [w.strip() for item in v for w in str(item).split(",") if w.strip()]
        return run(values, **{k: kwargs[k] for k in extra_names})

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__doc__ = doc or (model.__doc__ or "").split("\n\n")[0]  # the summary paragraph
    command.__name__ = name
    return command


def output_options(out_help: str) -> list[inspect.Parameter]:
    """``--out FOLDER`` (required) and ``--overwrite``: the extra options of a command that writes one folder."""
    return [inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=Path,
                              default=typer.Option(..., "--out", help=out_help)),
            inspect.Parameter("overwrite", inspect.Parameter.KEYWORD_ONLY, annotation=bool,
                              default=typer.Option(False, "--overwrite", help="Replace an existing output folder."))]


def validate(model: type[BaseModel], values: dict[str, Any], source: str | None = None) -> Any:
    """``model(**values)``; a validation error becomes one ``SynthmedError`` line naming each option
    (``--width: ...`` from the command line, ``source: key: ...`` otherwise)."""
    try:
        validated = model.model_validate(values)
    except ValidationError as exc:
        raise SynthmedError(format_errors(exc, source)) from None
    for name in type(validated).model_fields:
        value = getattr(validated, name)
        if any(isinstance(v, float) and not math.isfinite(v) for v in (value if isinstance(value, list) else [value])):
            # Checked here rather than with allow_inf_nan on every stage's model: 'inf' parses as a float, and
            # a bound like kimg > 0 lets it through (a run that never ends).
            where = f"{source}: {name}" if source else flag(name)
            raise SynthmedError(f"{where}: must be a finite number, got {value}")
    return validated


def format_errors(exc: ValidationError, source: str | None = None) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        where = (".".join(loc) if source else (flag(loc[0]) + "".join(f"[{p}]" for p in loc[1:]))) if loc else "options"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown option (check the spelling)"
        parts.append(f"{where}: {msg}")
    return (f"{source}: " if source else "") + "; ".join(parts)


def auto_or_at_least(minimum: int):
    """``auto`` (the stage sizes it) or a whole number >= ``minimum``, as text or a number."""
    def check(value: Any) -> Any:
        if value is None or value == "auto":
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            number = int(value)
        else:
            number = None
        if number is None or number < minimum:
            raise ValueError(f"must be auto or a whole number >= {minimum}, got {value!r}")
        return number

    return BeforeValidator(check)


class FurtherOptions(BaseModel):
    """Base of :func:`optional_copy` models: every field optional (None: the stage's default), no unknown keys."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)  # '.inf' in a config is no number


def optional_copy(model: type[BaseModel], name: str, exclude: set[str], doc: str,
                  extra: dict[str, Any] | None = None) -> type[BaseModel]:
    """A model with ``model``'s fields minus ``exclude`` (plus ``extra``: name -> (type, Field)), each optional
    (None: not given), unknown keys refused."""
    fields: dict[str, Any] = {}
    for fname, f in model.model_fields.items():
        if fname in exclude:
            continue
        annotation = Annotated[f.annotation, *f.metadata] if f.metadata else f.annotation
        fields[fname] = (annotation | None, Field(None, description=f.description))
    fields.update(extra or {})
    created = create_model(name, __base__=FurtherOptions, __doc__=doc, **fields)
    created.source_model = model  # where the stage's own defaults live (the generated configuration reference)
    return created


def like(model: type[BaseModel], name: str, optional: bool = False) -> Any:
    """The type of ``model``'s field ``name`` with its bounds (``Annotated``), without ``None``, for a field that
    another model declares again with a default of its own (the pipeline's ``gan.kimg`` is ``train-gan``'s
    ``--kimg`` with the profile's default; None there means "the default"): the values a user may give are declared
    once. ``optional``: keep ``None`` where it is a value of its own (``max_images: null``, all images)."""
    field = model.model_fields[name]
    annotation = field.annotation
    if not optional and typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = tuple(a for a in typing.get_args(annotation) if a is not type(None))
        annotation = args[0] if len(args) == 1 else typing.Union[args]  # noqa: UP007 (a tuple of types)
    return Annotated[annotation, *field.metadata] if field.metadata else annotation


def description(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].description or ""


def given(options: BaseModel | None) -> dict[str, Any]:
    """The options of an :func:`optional_copy` model that were given (not None)."""
    return {} if options is None else options.model_dump(exclude_none=True)
