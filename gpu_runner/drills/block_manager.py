"""Drill `block_manager`: a PagedAttention-style KV block allocator with copy-on-write."""

from __future__ import annotations

from collections.abc import Hashable

from gpu_runner.calling import Trace
from gpu_runner.drills.base import Case, Drill, python_rng

SIGNATURE = """\
class BlockManager:
    def __init__(self, n_blocks: int) -> None: ...
    def allocate(self, seq_id: Hashable, n: int) -> None: ...
    def free(self, seq_id: Hashable) -> None: ...
    def fork(self, src: Hashable, dst: Hashable) -> None: ...
    def write(self, seq_id: Hashable, index: int) -> bool: ...
    def free_count(self) -> int: ..."""

DOCSTRING = """\
Hands out KV-cache blocks to sequences, sharing them copy-on-write after a fork.

Blocks are shared between forked sequences until one of them writes; each
block carries a reference count.

- `allocate(seq_id, n)`: append n fresh blocks to the sequence's block table
  (creating the sequence if new). All or nothing: if fewer than n blocks are
  free, raise MemoryError and change nothing.
- `free(seq_id)`: drop the sequence; each of its blocks loses one reference and
  returns to the free pool when no sequence refers to it. KeyError if unknown.
- `fork(src, dst)`: dst gets a block table referring to the same blocks as src
  (no block is copied, no free block is used; each shared block gains a
  reference). KeyError if src is unknown, ValueError if dst already exists.
- `write(seq_id, index)`: the sequence is about to write into its index-th
  block (0 <= index < its length, else IndexError; KeyError if unknown). If
  that block is shared, give the sequence a fresh private copy in its place
  (MemoryError if none is free; the shared block loses one reference) and
  return True; if the sequence already owns it alone, return False.
- `free_count()`: the number of free blocks.

Judged on a seeded trace: what write and free_count return, and which calls
raise which exception. Block ids are yours to choose and are never compared;
allocate, free and fork return nothing (whatever they return is ignored)."""

TEMPLATE = '''\
"""Drill block_manager: write the `BlockManager` class below; the judge replays a trace."""

from collections.abc import Hashable


class BlockManager:
    """Ref-counted KV blocks: fork shares them, write copies a shared one first."""

    def __init__(self, n_blocks: int) -> None:
        raise NotImplementedError("BlockManager is not implemented yet")

    def allocate(self, seq_id: Hashable, n: int) -> None:
        """Append n fresh blocks to the sequence, or raise MemoryError and change nothing."""
        raise NotImplementedError

    def free(self, seq_id: Hashable) -> None:
        """Drop the sequence; blocks nobody refers to any more become free."""
        raise NotImplementedError

    def fork(self, src: Hashable, dst: Hashable) -> None:
        """Make dst share every block of src (reference counts, no copies)."""
        raise NotImplementedError

    def write(self, seq_id: Hashable, index: int) -> bool:
        """Give the sequence a private copy of its index-th block if shared; True if copied."""
        raise NotImplementedError

    def free_count(self) -> int:
        """Return the number of free blocks."""
        raise NotImplementedError
'''


class BlockManager:
    """A free stack, per-block reference counts and per-sequence block tables."""

    def __init__(self, n_blocks: int) -> None:
        self.free_blocks = list(range(n_blocks - 1, -1, -1))
        self.refs = [0] * n_blocks
        self.tables: dict[Hashable, list[int]] = {}

    def _take(self) -> int:
        block = self.free_blocks.pop()
        self.refs[block] = 1
        return block

    def _release(self, block: int) -> None:
        self.refs[block] -= 1
        if self.refs[block] == 0:
            self.free_blocks.append(block)

    def allocate(self, seq_id: Hashable, n: int) -> None:
        """Append n fresh blocks, all or nothing."""
        if n > len(self.free_blocks):
            raise MemoryError(f"{n} blocks wanted, {len(self.free_blocks)} free")
        table = self.tables.setdefault(seq_id, [])
        table.extend(self._take() for _ in range(n))

    def free(self, seq_id: Hashable) -> None:
        """Drop the sequence and release one reference on each of its blocks."""
        for block in self.tables.pop(seq_id):
            self._release(block)

    def fork(self, src: Hashable, dst: Hashable) -> None:
        """Share src's blocks with a new sequence dst."""
        table = self.tables[src]
        if dst in self.tables:
            raise ValueError(f"sequence {dst!r} already exists")
        for block in table:
            self.refs[block] += 1
        self.tables[dst] = list(table)

    def write(self, seq_id: Hashable, index: int) -> bool:
        """Copy the index-th block first if another sequence shares it."""
        table = self.tables[seq_id]
        if not 0 <= index < len(table):
            raise IndexError(index)
        block = table[index]
        if self.refs[block] == 1:
            return False
        if not self.free_blocks:
            raise MemoryError("no free block to copy into")
        table[index] = self._take()
        self._release(block)
        return True

    def free_count(self) -> int:
        """Return the number of free blocks."""
        return len(self.free_blocks)


class BlockManagerDrill(Drill):
    """Copy-on-write block manager judged on a trace."""

    id = "block_manager"
    title = "Paged KV block manager (copy-on-write)"
    entry = "BlockManager"
    kind = "class"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    needs_torch = False
    upcast_reference = False
    void_methods = frozenset({"allocate", "free", "fork"})
    reference_impl = BlockManager
    reference_imports = ("from collections.abc import Hashable",)
    bank_questions = (473,)
    public_cases = (
        Case("allocate_and_free", {"n_blocks": 8, "n_ops": 40, "fork": 0.0}),
        Case("fork_and_write", {"n_blocks": 12, "n_ops": 60, "fork": 0.2}),
    )
    secret_cases = (
        Case("tight_memory", {"n_blocks": 6, "n_ops": 200, "fork": 0.2, "bad": 0.05}),
        Case("deep_forks", {"n_blocks": 24, "n_ops": 300, "fork": 0.35}),
        Case("invalid_calls", {"n_blocks": 10, "n_ops": 200, "fork": 0.2, "bad": 0.25}),
        Case("many_sequences", {"n_blocks": 64, "n_ops": 1500, "fork": 0.15, "bad": 0.02}),
    )
    bench_cases = (
        Case(
            "bench_50k_ops",
            {"n_blocks": 2048, "n_ops": 50_000, "fork": 0.15, "bad": 0.01, "max_alloc": 16},
        ),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> Trace:
        """Return a seeded trace; a shadow reference keeps most calls valid and sizes sensible."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        n_blocks = int(p["n_blocks"])
        fork_share, bad = float(p.get("fork", 0.0)), float(p.get("bad", 0.0))
        max_alloc = int(p.get("max_alloc", max(1, n_blocks // 3)))
        shadow = BlockManager(n_blocks)
        next_id = iter(range(1_000_000))
        ops: list[tuple[str, tuple[object, ...]]] = []

        def record(name: str, *args: object) -> None:
            ops.append((name, args))
            try:
                getattr(shadow, name)(*args)
            except (MemoryError, KeyError, ValueError, IndexError):
                pass

        while len(ops) < int(p["n_ops"]):
            live = list(shadow.tables)
            roll = rng.random()
            if roll < bad:
                choice = rng.randrange(4)
                unknown = f"ghost-{next(next_id)}"
                if choice == 0 or not live:
                    record("free", unknown)
                elif choice == 1:
                    record("fork", rng.choice(live), rng.choice(live))
                elif choice == 2:
                    seq = rng.choice(live)
                    record("write", seq, len(shadow.tables[seq]))
                else:
                    record("allocate", rng.choice(live), shadow.free_count() + rng.randint(1, 3))
            elif roll < bad + fork_share and live:
                record("fork", rng.choice(live), f"seq-{next(next_id)}")
            elif live and rng.random() < 0.35:
                seq = rng.choice(live)
                if shadow.tables[seq] and rng.random() < 0.6:
                    record("write", seq, rng.randrange(len(shadow.tables[seq])))
                else:
                    record("free", seq)
            else:
                # Over-asking now and then exercises the all-or-nothing MemoryError.
                seq = rng.choice(live) if live and rng.random() < 0.4 else f"seq-{next(next_id)}"
                record("allocate", seq, rng.randint(1, max_alloc))
            if rng.random() < 0.5:
                ops.append(("free_count", ()))
        return Trace((n_blocks,), {}, ops)


DRILL = BlockManagerDrill()
