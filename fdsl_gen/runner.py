"""Run the shards of a plan on local processes or a Dask cluster, skipping finished ones.

A shard is the unit of work; shards are independent and each is a pure
function of (recipe, plan, index), so the output does not depend on the
number of workers, on the engine, or on which shards a previous run left
behind. `select_tasks` cuts the shard list for job arrays and ranges.
"""
import logging
import os
import socket
import threading
import time
from concurrent.futures import CancelledError, as_completed

from fdsl_gen.errors import RenderIncomplete, UserError
from fdsl_gen.progress import progress
from fdsl_gen.shardwriter import finished_record, shard_name, write_shard
from fdsl_gen.storage import open_store

_WORKER = {}
POOL_RESTARTS = 3  # a lost pool starts again this often, and Dask retries a shard as often
DASK_POLL_S = 10  # how often a Dask run checks that its scheduler is still there


def all_tasks(plan):
    return [(split, index) for split in plan.splits() for index in range(plan.num_shards(split))]


def select_tasks(tasks, shards=None, task_index=None, num_tasks=None):
    """The tasks of a range `shards` (start, stop) and/or of array task `task_index` of `num_tasks`."""
    if shards is not None:
        start, stop = shards
        if not 0 <= start < stop <= len(tasks):
            raise UserError(f"shard range {start}:{stop} is outside the dataset's {len(tasks)} shards (0:{len(tasks)})")
        tasks = tasks[start:stop]
    if num_tasks is not None or task_index is not None:
        if num_tasks is None or task_index is None:
            raise UserError("give both task_index and num_tasks (or neither)", options=("task_index", "num_tasks"))
        if num_tasks < 1:
            raise UserError(f"num_tasks must be at least 1, not {num_tasks}", options="num_tasks")
        if not 0 <= task_index < num_tasks:
            raise UserError(f"task_index {task_index} is outside 0..{num_tasks - 1}", options="task_index")
        tasks = tasks[task_index::num_tasks]
    return tasks


def array_task_from_environment(environ=os.environ):
    """(index, count) of a SLURM job array or Kubernetes Indexed Job task, or (None, None)."""
    if "SLURM_ARRAY_TASK_ID" in environ and "SLURM_ARRAY_TASK_COUNT" in environ:
        first = _environment_int(environ, "SLURM_ARRAY_TASK_MIN", "0")
        return (_environment_int(environ, "SLURM_ARRAY_TASK_ID") - first,
                _environment_int(environ, "SLURM_ARRAY_TASK_COUNT"))
    if "JOB_COMPLETION_INDEX" in environ:
        return _environment_int(environ, "JOB_COMPLETION_INDEX"), None
    return None, None


def _environment_int(environ, variable, default=None):
    value = environ.get(variable, default)
    try:
        return int(value)
    except ValueError:
        raise UserError(f"environment variable {variable}={value!r} is not a whole number") from None


def render_shards(recipe, plan, location, name, digest, tasks, workers=1, quiet=False, scheduler=None):
    """Write every shard of `tasks` not already finished into a folder or prefix; returns their records.

    `digest` is the config digest of the claim: a shard recorded for another one is rendered again.
    """
    store = open_store(location)
    records, todo = {}, []
    for task in tasks:
        record = finished_record(store, shard_name(name, *task), digest)
        if record is None:
            todo.append(task)
        else:
            records[task] = record
    total = sum(len(range(*plan.shard_range(*task))) for task in tasks)
    done = sum(r["samples"] for r in records.values())
    run = _run_dask if scheduler else _run_local
    with progress(total, initial=done, unit="img", desc=name, disable=quiet) as bar:
        for record in run(recipe, plan, store, (name, digest), todo, scheduler or workers):
            records[(record["split"], record["index"])] = record
            bar.set_postfix(shards=f"{len(records)}/{len(tasks)}")
            bar.update(record["samples"])
    return [records[task] for task in tasks]


def _start_worker(recipe, plan, store, dataset):
    _WORKER.update(recipe=recipe, plan=plan, store=store, dataset=dataset)


def _start_pool_worker(parent, *args):
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    _start_worker(*args)


def _exit_with_parent(parent):
    """A worker whose parent was killed would wait on its task queue forever: it leaves instead."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


def _render_task(task):
    name, digest = _WORKER["dataset"]
    return write_shard(_WORKER["recipe"], _WORKER["plan"], _WORKER["store"], name, *task, digest)


def _process_pool(workers, initargs):
    """`workers` processes, forked where the platform can; multiprocessing is imported here, not by a
    one-process run."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    return ProcessPoolExecutor(workers, context, _start_pool_worker, initargs)


def _run_local(recipe, plan, store, dataset, todo, workers):
    """Shards on a process pool; a pool that loses a worker (kill -9, the OOM killer) is
    started again for the shards left, up to POOL_RESTARTS times, then the run stops."""
    workers = max(1, min(workers, len(todo)))
    if workers == 1:
        _start_worker(recipe, plan, store, dataset)
        yield from map(_render_task, todo)
        return
    from concurrent.futures.process import BrokenProcessPool
    left = set(todo)
    for _ in range(POOL_RESTARTS + 1):
        pool = _process_pool(workers, (os.getpid(), recipe, plan, store, dataset))
        try:
            futures = {pool.submit(_render_task, task): task for task in todo if task in left}
            for future in as_completed(futures):
                try:
                    record = future.result()
                except BrokenProcessPool:
                    continue  # its shard stays in `left` for the next pool
                left.discard(futures[future])
                yield record
        except BrokenProcessPool:
            pass  # it broke while shards were being submitted; the unfinished ones stay in `left`
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if not left:
            return
    raise RenderIncomplete(f"worker processes died {POOL_RESTARTS + 1} times (killed, or out of memory?); "
                           f"{len(left)} of {len(todo)} shards are not finished")


def _dask_task(task, recipe, plan, store, dataset, encoder):
    """One shard on a Dask worker, which must have the PNG `encoder` of the render (its own machine may not)."""
    from fdsl_gen.encode import ENCODER, describe  # the codecs load in the writers, not in info or verify
    if encoder != ENCODER:
        raise UserError(f"Dask worker {socket.gethostname()} has PNG encoder {describe(ENCODER)} and the render "
                        f"{describe(encoder)}: its shards would differ in bytes; install the same version on every "
                        "worker")
    name, digest = dataset
    return write_shard(recipe, plan, store, name, *task, digest)


def _run_dask(recipe, plan, store, dataset, todo, scheduler):
    """One Dask task per shard, retried on worker loss; a folder must be shared with the workers."""
    try:
        from distributed import Client
    except ImportError:
        raise UserError("engine dask needs the dist extra: pip install 'fdsl[dist]'", options="engine") from None
    from fdsl_gen.encode import ENCODER
    # The client logs a lost connection with a traceback; the one line of RenderIncomplete says it.
    logging.getLogger("distributed.client").setLevel(logging.CRITICAL)
    try:
        client = Client(scheduler, timeout="10s")
    except (OSError, TimeoutError, ValueError) as err:
        raise UserError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None
    lost = RenderIncomplete(f"lost the Dask scheduler at {scheduler}")
    with client:
        if not todo:
            return
        _wait_for_workers(client, lost)
        try:
            recipe_f, plan_f = client.scatter([recipe, plan], broadcast=True)
            futures = client.map(_dask_task, todo, recipe=recipe_f, plan=plan_f, store=store,
                                 dataset=dataset, encoder=ENCODER, retries=POOL_RESTARTS, pure=False)
        except (OSError, CancelledError):
            raise lost from None
        yield from _dask_results(client, futures, lost)


def _wait_for_workers(client, lost):
    """Until the cluster has a worker (it may be scaling up): scatter would give up after its time-out."""
    while True:
        try:
            client.wait_for_workers(1, timeout=DASK_POLL_S)
            return
        except TimeoutError:
            if client.status != "running":
                raise lost from None
        except (OSError, CancelledError):
            raise lost from None


def _dask_results(client, futures, lost):
    """Results as they finish; a lost scheduler, or a shard whose workers died POOL_RESTARTS + 1 times, stops the
    run."""
    from distributed import wait
    from distributed.scheduler import KilledWorker
    pending = set(futures)
    while pending:
        try:
            done, pending = wait(pending, timeout=DASK_POLL_S, return_when="FIRST_COMPLETED")
        except TimeoutError:
            done = ()
        except (OSError, CancelledError):
            raise lost from None
        for future in done:
            try:
                yield future.result()
            except KilledWorker:
                raise RenderIncomplete(f"Dask workers died {POOL_RESTARTS + 1} times on one shard (killed, or out of "
                                       f"memory?); {len(pending) + 1} shards left unfinished") from None
            except CancelledError:
                raise lost from None
        if client.status != "running":
            raise lost
