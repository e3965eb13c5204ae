"""The memory of a process and its children, from ``/proc``: resident (RSS), proportional (PSS) and private set sizes.

RSS counts every page a process maps in full, shared or not, so N workers
mapping the same index files each count all of it; PSS divides a shared page
among the processes that map it, so its sum over the workers is what they
take together; private (USS: private clean and dirty pages) is what the
process alone holds, what another worker would add. All three are read for each
process, in MB.
"""

from __future__ import annotations

from pathlib import Path


def _field_kb(path: Path, name: str) -> int:
    """The ``name:`` line of a ``/proc`` file, in kB (0 where the file has no such line)."""
    for line in path.read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def _role(pid: int, parent: int) -> str:
    """``parent``, ``worker`` (a multiprocessing child) or ``tracker`` (multiprocessing's resource tracker, small)."""
    if pid == parent:
        return "parent"
    return "tracker" if b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes() else "worker"


def process_memory(pid: int) -> dict:
    """RSS and PSS of the server ``pid`` and of its child processes (the workers), each and summed.

    Returns
    -------
    dict
        ``processes``: one ``{"pid", "role", "rss_mb", "pss_mb", "private_mb"}`` each, the parent first (with one
        worker,
        the parent is the server itself);
        ``rss_mb`` and ``pss_mb``: their sums.
    """
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    processes = []
    for p in pids:
        try:
            rss = _field_kb(Path(f"/proc/{p}/status"), "VmRSS")
            rollup = Path(f"/proc/{p}/smaps_rollup")  # Linux 4.14 on
            pss = _field_kb(rollup, "Pss")
            private = _field_kb(rollup, "Private_Clean") + _field_kb(rollup, "Private_Dirty")
            role = _role(p, pid)
        except (FileNotFoundError, ProcessLookupError):  # a child that exited between the listing and the read
            continue
        processes.append(
            {
                "pid": p,
                "role": role,
                "rss_mb": round(rss / 1024, 1),
                "pss_mb": round(pss / 1024, 1),
                "private_mb": round(private / 1024, 1),
            }
        )
    return {
        "processes": processes,
        "rss_mb": round(sum(q["rss_mb"] for q in processes), 1),
        "pss_mb": round(sum(q["pss_mb"] for q in processes), 1),
    }
