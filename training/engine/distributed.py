"""One code path for one process and for ``torchrun --nproc_per_node=N`` (gloo on CPU, nccl on GPU)."""
from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int
    size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Only the main process writes checkpoints, logs and exports."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def adopt_main_buffers(self, model: torch.nn.Module) -> None:
        """Give every rank rank 0's buffers (BN running statistics), as DDP's next forward would: each
        rank's last step updated them with its own batch, so the replicas differ in their buffers alone."""
        if self.size > 1:
            for buffer in model.buffers():
                dist.broadcast(buffer, src=0)

    def close(self, *, wait_for_others: bool = True) -> None:
        """Leave the process group. Ranks first wait for each other, so none tears gloo down while another
        still talks to it, and DistributedDataParallel wrappers are collected while the group exists (a
        wrapper freed after it, at interpreter exit, can abort the process: "terminate called without an
        active exception")."""
        if self.size > 1 and dist.is_initialized():
            gc.collect()
            if wait_for_others:
                dist.barrier()
            dist.destroy_process_group()


def init_world(device: str | None = None) -> World:
    """Join the process group torchrun describes in the environment (WORLD_SIZE, RANK, LOCAL_RANK)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if size > 1 and not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo", rank=rank, world_size=size)
    return World(rank, size, dev)


@contextmanager
def joined_world(device: str | None = None) -> Iterator[World]:
    """``init_world`` for the length of a ``with`` block, then ``close``. Keep the models and their
    DistributedDataParallel wrappers in a function called inside the block, so they are gone when
    the group is destroyed. After an error the ranks do not wait for each other (one may be dead)."""
    world = init_world(device)
    try:
        yield world
    except BaseException:
        world.close(wait_for_others=False)
        raise
    world.close()
