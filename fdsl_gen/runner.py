"""Run the shards of a plan on a local process pool, skipping finished ones.

A shard is the unit of work; shards are independent and each is a pure
function of (recipe, plan, index), so the output does not depend on the
number of workers or on which shards a previous run left behind.
"""
import multiprocessing
import sys

from tqdm import tqdm

from fdsl_gen.shardwriter import finished_record, shard_name, write_shard

_WORKER = {}


def _start_worker(recipe, plan, folder, name):
    _WORKER.update(recipe=recipe, plan=plan, folder=folder, name=name)


def _render_task(task):
    return write_shard(_WORKER["recipe"], _WORKER["plan"], _WORKER["folder"], _WORKER["name"], *task)


def all_tasks(plan):
    return [(split, index) for split in plan.splits() for index in range(plan.num_shards(split))]


def _pool_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def render_shards(recipe, plan, folder, name, workers=1, quiet=False, tasks=None):
    """Write every shard of `tasks` (default: all) not already finished; returns all records."""
    tasks = all_tasks(plan) if tasks is None else tasks
    records, todo = {}, []
    for task in tasks:
        record = finished_record(folder, shard_name(name, *task))
        if record is None:
            todo.append(task)
        else:
            records[task] = record
    total = sum(len(range(*plan.shard_range(*task))) for task in tasks)
    done = sum(r["samples"] for r in records.values())
    with tqdm(total=total, initial=done, unit="img", desc=name, disable=quiet,
              file=sys.stderr, dynamic_ncols=True) as bar:
        for record in _run(recipe, plan, folder, name, todo, workers):
            records[(record["split"], record["index"])] = record
            bar.update(record["samples"])
    return [records[task] for task in tasks]


def _run(recipe, plan, folder, name, todo, workers):
    workers = max(1, min(workers, len(todo)))
    if workers == 1:
        _start_worker(recipe, plan, folder, name)
        yield from map(_render_task, todo)
        return
    with _pool_context().Pool(workers, _start_worker, (recipe, plan, folder, name)) as pool:
        yield from pool.imap_unordered(_render_task, todo)
