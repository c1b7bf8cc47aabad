"""The registry of GAN families: name -> :class:`synthmed.gan.arch.Arch`.

A family is a module of this package, named after the family with ``-`` as ``_`` (``wgan_gp.py`` is
``wgan-gp``), that registers one ``Arch`` with :func:`register` (see ``synthmed/gan/arch.py`` for what it
implements), or a package of that name whose torch-free ``__init__.py`` declares the family's options and whose
``family.py`` registers the ``Arch``. The names come from the module files without importing them, so option parsing and
``--help`` stay free of torch; a family's module is imported when it is first used. Built-in families, in
the order help texts list them, come first; others follow in module-name order.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TYPE_CHECKING

from synthmed.errors import SynthmedError

if TYPE_CHECKING:
    from synthmed.gan.arch import Arch

BUILTIN = ("dcgan", "wgan_gp", "stylegan2")  # module names; listed first in help texts

_REGISTRY: dict[str, Arch] = {}


def _module(name: str) -> str:
    return name.replace("-", "_")


def register(arch: Arch) -> Arch:
    """Called by a family's module at import; its name must match the module's (``bagan-gp`` in ``bagan_gp.py``)."""
    module = type(arch).__module__.removesuffix(".family")  # a family package registers from its family.py
    if module.startswith(f"{__name__}.") and module.rsplit(".", 1)[1] != _module(arch.name):
        raise ValueError(f"{module} registers {arch.name!r}: a family's name is its module's name with - for _")
    _REGISTRY[arch.name] = arch
    return arch


def names() -> tuple[str, ...]:
    """Registered family names (``--arch`` choices), found without importing the families."""
    found = {m.name for m in pkgutil.iter_modules(__path__)}
    modules = [m for m in BUILTIN if m in found] + sorted(found - set(BUILTIN))
    listed = tuple(m.replace("_", "-") for m in modules)
    return listed + tuple(n for n in _REGISTRY if n not in listed)


def get_arch(name: str | None) -> Arch:
    """The family called ``name``; anything else is a one-line error listing the choices."""
    if name not in _REGISTRY and name in names():
        module = importlib.import_module(f"{__name__}.{_module(name)}")
        if hasattr(module, "__path__"):  # a family package: options in __init__, the family in family.py
            importlib.import_module(f"{module.__name__}.family")
    if name not in _REGISTRY:
        raise SynthmedError(f"--arch must be one of {', '.join(names())}, got {name}")
    return _REGISTRY[name]
