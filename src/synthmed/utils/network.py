"""Whether a download host can be reached at all, checked before a library tries (and prints, and retries)."""

from __future__ import annotations

import socket


def host_resolves(host: str, port: int = 443) -> bool:
    """True when DNS resolves ``host``: offline, downloads fail at once instead of after retries."""
    try:
        socket.getaddrinfo(host, port)
    except OSError:
        return False
    return True
