"""torch's CUDA out-of-memory error: its class name, as the A1111 envelope reports it, and its message."""

from __future__ import annotations

import math

from emulator.gpu.vram import MIB

OOM_HINT = (
    " If reserved but unallocated memory is large try setting"
    " PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation."
    "  See documentation for Memory Management "
    " (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)"
)


class OutOfMemoryError(RuntimeError):
    """Raised when a pass needs more VRAM than is free; named like torch.cuda.OutOfMemoryError so the
    A1111 error envelope says "OutOfMemoryError". `allocated_share` is the share of the pass's working
    memory allocated before the failing chunk (how far the pass got); `reserved_mib` what it leaves in
    torch's cache for `empty_cache` to give back."""

    def __init__(self, message: str, *, allocated_share: float = 0.0, reserved_mib: float = 0.0) -> None:
        super().__init__(message)
        self.allocated_share = allocated_share
        self.reserved_mib = reserved_mib


def format_size(size_bytes: float) -> str:
    """c10's `format_size`: two decimals, bytes/KiB/MiB/GiB."""
    size = int(size_bytes)
    if size <= 1024:
        return f"{size} bytes"
    if size <= 1048576:
        return f"{size / 1024:.2f} KiB"
    if size <= 1073741824:
        return f"{size / 1048576:.2f} MiB"
    return f"{size / 1073741824:.2f} GiB"


def round_block(mib: float) -> float:
    """The caching allocator hands out 2 MiB blocks for large tensors."""
    return max(2.0, math.ceil(mib / 2) * 2)


def oom_message(
    *, chunk_mib: float, total_mib: float, free_mib: float, in_use_mib: float, allocated_mib: float,
    unallocated_mib: float,
) -> str:  # fmt: skip
    """The message of torch >= 2.1 (c10/cuda/CUDACachingAllocator.cpp)."""
    return (
        f"CUDA out of memory. Tried to allocate {format_size(chunk_mib * MIB)}. "
        f"GPU 0 has a total capacity of {format_size(total_mib * MIB)} "
        f"of which {format_size(free_mib * MIB)} is free. "
        f"Including non-PyTorch memory, this process has {format_size(in_use_mib * MIB)} memory in use. "
        f"Of the allocated memory {format_size(allocated_mib * MIB)} is allocated by PyTorch, "
        f"and {format_size(unallocated_mib * MIB)} is reserved by PyTorch but unallocated." + OOM_HINT
    )
