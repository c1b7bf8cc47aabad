"""The registry of GAN families: name -> :class:`synthmed.gan.arch.Arch`.

Every module of this package is imported on first use and registers its family with :func:`register`, so a
new family is a new module here (see ``synthmed/gan/arch.py`` for what it implements). Built-in families,
in the order help texts list them, come first; others follow in module-name order.
"""

from __future__ import annotations

import importlib
import pkgutil

from synthmed.errors import SynthmedError
from synthmed.gan.arch import Arch

BUILTIN = ("dcgan", "wgan_gp", "stylegan2")  # module names; listed first in help texts

_REGISTRY: dict[str, Arch] = {}
_loaded = False


def register(arch: Arch) -> Arch:
    if not arch.name:
        raise ValueError(f"{type(arch).__name__} has no name")
    if arch.name in _REGISTRY and type(_REGISTRY[arch.name]) is not type(arch):
        raise ValueError(f"two GAN families are named {arch.name!r}")
    _REGISTRY[arch.name] = arch
    return arch


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    others = sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in BUILTIN)
    for module in (*BUILTIN, *others):
        importlib.import_module(f"{__name__}.{module}")


def names() -> tuple[str, ...]:
    """Registered family names (``--arch`` choices)."""
    _load()
    return tuple(_REGISTRY)


def get_arch(name: str | None) -> Arch:
    """The family called ``name``; anything else is a one-line error listing the choices."""
    _load()
    if name not in _REGISTRY:
        raise SynthmedError(f"--arch must be one of {', '.join(_REGISTRY)}, got {name}")
    return _REGISTRY[name]
