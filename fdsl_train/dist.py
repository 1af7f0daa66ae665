"""Process ranks from torchrun, SLURM or Open MPI, and the process group (nccl on GPU, gloo on CPU).

torchrun's variables win when present, so `srun torchrun ...` behaves like
torchrun. Under plain `srun` or `mpirun`, each task is one rank; the
rendezvous address defaults to this host (MASTER_ADDR / MASTER_PORT override
it, as multi-node jobs must).
"""
import os
from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
import torch.distributed as torch_dist

# (rank, world size, local rank) variables of each launcher, in order of precedence
LAUNCHERS = (
    ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
)


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def ranks_from_env(environ: Mapping[str, str]) -> Ranks:
    for rank, world, local in LAUNCHERS:
        if rank in environ and world in environ:
            return Ranks(int(environ[rank]), int(environ[world]), int(environ.get(local, 0)))
    return Ranks()


def setup(ranks: Ranks) -> torch.device:
    """Join the process group when there is more than one rank; the device this rank trains on."""
    use_cuda = torch.cuda.is_available()
    device = torch.device("cuda", ranks.local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    if ranks.world > 1 and not torch_dist.is_initialized():
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29500")
        torch_dist.init_process_group(
            backend="nccl" if use_cuda else "gloo", init_method="env://",
            rank=ranks.rank, world_size=ranks.world,
        )
    return device


def teardown() -> None:
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def sum_over_ranks(values: Sequence[float], device: torch.device) -> list:
    """Element-wise sum of `values` over all ranks (the values themselves when alone)."""
    tensor = torch.tensor(list(values), dtype=torch.float64, device=device)
    if torch_dist.is_initialized():
        torch_dist.all_reduce(tensor)
    return tensor.tolist()


def gather(value) -> list:
    """`value` of every rank, in rank order (picklable values; [value] when alone)."""
    if not torch_dist.is_initialized():
        return [value]
    values = [None] * torch_dist.get_world_size()
    torch_dist.all_gather_object(values, value)
    return values
