"""The simulated CUDA device: what is resident, what a job allocates, torch's counters and OOM text."""

from __future__ import annotations

import math
import threading

from emulator.gpu.oom import OutOfMemoryError, oom_message, round_block
from emulator.gpu.vram import CUDA_CONTEXT_MIB, MIB


class Device:
    """One GPU of `total_mib`. Thread-safe; every figure is kept in MiB and reported in bytes."""

    def __init__(self, total_mib: float, *, context_mib: float = CUDA_CONTEXT_MIB) -> None:
        self.total_mib = total_mib
        self.context_mib = context_mib
        self._lock = threading.Lock()
        self._resident: dict[str, float] = {}
        self._working = 0.0
        self._reserved_extra = 0.0
        self._peak_allocated = 0.0
        self._peak_reserved = 0.0
        self.num_ooms = 0
        self.num_alloc_retries = 0

    def set_resident(self, key: str, mib: float) -> None:
        with self._lock:
            self._resident[key] = mib
            self._touch_peaks()

    def drop_resident(self, key: str) -> None:
        with self._lock:
            self._resident.pop(key, None)

    def resident_keys(self, prefix: str) -> list[str]:
        with self._lock:
            return [key for key in self._resident if key.startswith(prefix)]

    def resident_mib(self) -> float:
        with self._lock:
            return sum(self._resident.values())

    def allocate_working(self, mib: float, *, force: bool = False) -> None:
        """Reserve a pass's working memory (replacing the previous pass's). Raises OutOfMemoryError (and
        counts it) if it does not fit, or always when `force` (an injected OOM, reported as if the pass
        needed more than is free). A failed pass keeps what it allocated before the failing chunk
        reserved until `release_working`, as torch's cache does until `empty_cache`."""
        with self._lock:
            resident = sum(self._resident.values())
            budget = self.total_mib - self.context_mib
            if force:
                mib = max(mib, budget - resident + 2 * mib)
            elif resident + mib <= budget:
                self._working = mib
                self._reserved_extra = min(256.0, 0.02 * mib)
                self._touch_peaks()
                return
            self.num_ooms += 1
            self.num_alloc_retries += 1
            error = self._out_of_memory(resident, mib, budget)
        raise error

    def release_working(self) -> float:
        """torch_gc(): the working memory freed and the cache emptied; returns the MiB given back."""
        with self._lock:
            released = self._working + self._reserved_extra
            self._working = 0.0
            self._reserved_extra = 0.0
            return released

    def _touch_peaks(self) -> None:
        allocated = sum(self._resident.values()) + self._working
        self._peak_allocated = max(self._peak_allocated, allocated)
        self._peak_reserved = max(self._peak_reserved, allocated + self._reserved_extra)

    def _out_of_memory(self, resident: float, need: float, budget: float) -> OutOfMemoryError:
        # Working memory is allocated in chunks; the one that fails is the "Tried to allocate" figure,
        # and the chunks before it are what the pass got through.
        chunk = round_block(min(need, max(20.0, need / 8)))
        unallocated = round_block(min(256.0, 0.02 * max(resident, 1.0)))
        fitted = max(0, math.floor((budget - resident - unallocated) / chunk))
        allocated = resident + fitted * chunk
        free = max(0.0, budget - allocated - unallocated)
        in_use = allocated + unallocated + self.context_mib
        self._working, self._reserved_extra = fitted * chunk, unallocated
        self._touch_peaks()
        message = oom_message(
            chunk_mib=chunk, total_mib=self.total_mib, free_mib=free, in_use_mib=in_use,
            allocated_mib=allocated, unallocated_mib=unallocated,
        )  # fmt: skip
        return OutOfMemoryError(
            message,
            allocated_share=min(1.0, fitted * chunk / need),
            reserved_mib=fitted * chunk + unallocated,
        )

    def framebuffer_mib(self) -> tuple[int, int]:
        """(used, total) MiB as the driver sees them: reserved by torch plus the CUDA context."""
        with self._lock:
            used = sum(self._resident.values()) + self._working + self._reserved_extra + self.context_mib
        return round(used), round(self.total_mib)

    def memory_stats(self) -> dict[str, object]:
        """The `cuda` object of `/sdapi/v1/memory` (bytes, as torch.cuda.memory_stats reports them)."""
        with self._lock:
            allocated = sum(self._resident.values()) + self._working
            reserved = allocated + self._reserved_extra
            used = reserved + self.context_mib
            peak_allocated, peak_reserved = self._peak_allocated, self._peak_reserved
            ooms, retries = self.num_ooms, self.num_alloc_retries
        total = self.total_mib * MIB

        def pair(current: float, peak: float) -> dict[str, int]:
            return {"current": int(current * MIB), "peak": int(max(current, peak) * MIB)}

        return {
            "system": {"free": int(total - used * MIB), "used": int(used * MIB), "total": int(total)},
            "active": pair(allocated, peak_allocated),
            "allocated": pair(allocated, peak_allocated),
            "reserved": pair(reserved, peak_reserved),
            "inactive": pair(reserved - allocated, peak_reserved - peak_allocated),
            "events": {"retries": retries, "oom": ooms},
        }
