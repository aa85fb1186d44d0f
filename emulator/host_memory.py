"""The `ram` object of `/sdapi/v1/memory`, read from /proc (A1111 uses psutil, which we do not depend on)."""

from __future__ import annotations

import os
from typing import Any


def ram_usage() -> dict[str, Any]:
    """{free, used, total} in bytes: used is this process's RSS, as A1111 reports it; {error} elsewhere."""
    try:
        with open("/proc/self/statm") as statm:
            rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, IndexError) as exc:
        return {"error": f"{exc}"}
    return {"free": float(total - rss), "used": rss, "total": float(total)}
