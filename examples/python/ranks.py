"""Process setup shared by the torch.distributed examples: under torchrun (WORLD_SIZE set) join
the gloo process group, otherwise run as the only rank."""

import os

import torch.distributed as dist


def init():
    """(distributed, rank, world size) of this process."""
    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if distributed else 0
    world = dist.get_world_size() if distributed else 1
    return distributed, rank, world
