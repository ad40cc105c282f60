"""runtime.CachingAllocator: freed handles are reused by the next allocation of their size, up to a limit."""

from __future__ import annotations

from typing import Any

from tinygrad_core import flags, runtime


class CountingAllocator(runtime.CachingAllocator):
    cache_limit = 100

    def __init__(self) -> None:
        super().__init__()
        self.made: list[int] = []
        self.released: list[Any] = []

    def _alloc(self, nbytes: int) -> Any:
        self.made.append(nbytes)
        return object()

    def _free(self, handle: Any, nbytes: int) -> None:
        self.released.append(handle)


def test_a_freed_handle_serves_the_next_allocation_of_its_size() -> None:
    allocator = CountingAllocator()
    first = allocator.alloc(40)
    allocator.free(first, 40)
    assert allocator.alloc(32) is not first  # another size: fresh memory
    assert allocator.alloc(40) is first
    assert allocator.alloc(40) is not first  # each handle is given out once
    assert allocator.made == [40, 32, 40]


def test_beyond_the_limit_handles_are_released() -> None:
    allocator = CountingAllocator()
    handles = [allocator.alloc(40) for _ in range(3)]
    for handle in handles:
        allocator.free(handle, 40)
    assert allocator.released == [handles[2]]  # 80 bytes wait for reuse; 120 would pass the limit of 100
    assert {id(allocator.alloc(40)), id(allocator.alloc(40))} == {id(handles[0]), id(handles[1])}


def test_the_default_limit_is_the_alloc_cache_mb_flag() -> None:
    class FlagLimited(CountingAllocator):
        cache_limit = None

    allocator = FlagLimited()
    with flags.Context(ALLOC_CACHE_MB=1):
        handles = [allocator.alloc(400_000) for _ in range(3)]
        for handle in handles:
            allocator.free(handle, 400_000)
    assert allocator.released == [handles[2]]  # two fit in one megabyte, the third is released
