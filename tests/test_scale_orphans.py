"""A process-pool worker ends when the process that started it dies (no orphans holding the CPU)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

psutil = pytest.importorskip("psutil")


@pytest.mark.skipif(sys.platform == "win32", reason="re-parenting is a POSIX notion")
def test_pool_workers_exit_when_their_parent_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import time
        from synthrec.scale.backends import ProcessPoolBackend

        def slow(shared, task):
            time.sleep(120)
            return task

        if __name__ == "__main__":
            open({str(tmp_path / "started")!r}, "w").close()
            for _ in ProcessPoolBackend(2).map(slow, None, [1, 2]):
                pass
    """))
    parent = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
    proc = psutil.Process(parent.pid)
    deadline = time.monotonic() + 60
    workers: list = []
    while time.monotonic() < deadline and len(workers) < 2:
        time.sleep(0.2)
        workers = [c for c in proc.children(recursive=True) if "spawn_main" in " ".join(c.cmdline())]
    assert len(workers) == 2, "the pool did not start its workers"
    time.sleep(2)  # let the initializers run
    os.kill(parent.pid, 9)  # no clean shutdown possible
    parent.wait()
    _, alive = psutil.wait_procs(workers, timeout=15)
    for p in alive:
        p.kill()
    assert not alive, "pool workers outlived their parent"
