"""The registry of generator families: name -> :class:`synthmed.gan.arch.Arch`.

A family is a module of this package, named after the family with ``-`` as ``_`` (``pix2pix.py`` is
``pix2pix``), that registers one ``Arch`` with :func:`register` (see ``synthmed/gan/arch.py`` for what it
implements); or, for a family with options of its own, a package (``wgan_gp/``) whose torch-free
``__init__.py`` declares them (``Options``, see ``synthmed/gan/arch_options.py``) and whose ``family.py``
registers the ``Arch``. The names come from the file names without importing them, and the options from the
packages' ``__init__`` alone, so option parsing and ``--help`` stay free of torch; a family's code is
imported when it is first used. Built-in families, in the order help texts list them, come first; others
follow in module-name order.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from typing import TYPE_CHECKING, Any

from synthmed.errors import SynthmedError
from synthmed.gan.arch_options import FamilyOptions

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from synthmed.gan.arch import Arch

BUILTIN = ("dcgan", "wgan_gp", "stylegan2")  # module names; listed first in help texts

_REGISTRY: dict[str, Arch] = {}


def _module(name: str) -> str:
    return name.replace("-", "_")


def register(arch: Arch) -> Arch:
    """Called by a family's module at import; its name must match the module's (``bagan-gp`` in ``bagan_gp/``)."""
    parts = type(arch).__module__.split(".")
    if ".".join(parts[:3]) == __name__ and len(parts) > 3 and parts[3] != _module(arch.name):
        raise ValueError(f"{type(arch).__module__} registers {arch.name!r}: a family's name is its module's name "
                         "with - for _")
    if arch.options is not options_model(arch.name) and arch.name in names():
        raise ValueError(f"{arch.name}: the family's Arch.options must be the Options of its package")
    _REGISTRY[arch.name] = arch
    return arch


@functools.cache  # the package's files do not change while a process runs
def _found() -> dict[str, bool]:
    """Module name -> whether it is a package (a family with options), for every family in this folder."""
    return {m.name: m.ispkg for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}


def names() -> tuple[str, ...]:
    """Registered family names (``--arch`` choices), found without importing the families."""
    found = set(_found())
    modules = [m for m in BUILTIN if m in found] + sorted(found - set(BUILTIN))
    listed = tuple(m.replace("_", "-") for m in modules)
    return listed + tuple(n for n in _REGISTRY if n not in listed)


def options_model(name: str) -> type[FamilyOptions]:
    """The family's own options model (the base, with no fields, for a family without any), without torch."""
    if name in _REGISTRY and name not in names():  # registered from outside this package
        return _REGISTRY[name].options
    if not _found().get(_module(name)):
        return FamilyOptions
    return importlib.import_module(f"{__name__}.{_module(name)}").Options


def option_fields() -> dict[str, tuple[FieldInfo, tuple[str, ...]]]:
    """Every family option: field name -> (its declaration, the families that take it). Families may share an
    option (WGAN-GP's and BAGAN-GP's ``n_critic``) only with one type, so that one flag serves them all."""
    out: dict[str, tuple[Any, tuple[str, ...]]] = {}
    for family in names():
        for field_name, field in options_model(family).model_fields.items():
            if field_name in out:
                first, families = out[field_name]
                if first.annotation != field.annotation:
                    raise ValueError(f"{family}: option {field_name} has another type than in {families[0]}")
                out[field_name] = (first, (*families, family))
            else:
                out[field_name] = (field, (family,))
    return out


def get_arch(name: str | None) -> Arch:
    """The family called ``name``; anything else is a one-line error listing the choices."""
    if name not in _REGISTRY and name in names():
        module = _module(name)
        importlib.import_module(f"{__name__}.{module}.family" if _found()[module] else f"{__name__}.{module}")
    if name not in _REGISTRY:
        raise SynthmedError(f"--arch must be one of {', '.join(names())}, got {name}")
    return _REGISTRY[name]
