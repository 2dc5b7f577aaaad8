"""kill -9 and restart: a workflow process killed mid-run after its first checkpoint, then resumed by a
new process, ends with exactly the state of an uninterrupted process; the steps before the checkpoint
the resume starts from ran only in the killed process."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

import hyflow as hy
from hyflow.workflow.checkpoint import list_checkpoints

SCRIPT = textwrap.dedent('''
    """argv: checkpoint_dir (or '-'), output file, step log file, resume (0/1)."""
    import os
    import sys
    import time

    import hyflow as hy
    import hyflow.nn as nn
    from hyflow.workflow import Workflow

    ckpt, out, step_log, resume = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
    STEPS = 24

    wf = Workflow("killable", seed=5)
    states = wf.channel("states", capacity=8)

    @wf.task(outputs=[states])
    def simulate(ctx):
        with open(step_log, "a") as f:            # a side effect outside hyflow: at least once
            f.write(f"{os.getpid()} {ctx.step}\\n")
        time.sleep(0.04)                           # slow enough to be killed mid-run
        u = ctx.state.setdefault("u", hy.randn(4))
        ctx.state["u"] = (0.9 * u + 0.1 * hy.randn(4)).detach()
        return ctx.state["u"]

    @wf.task(inputs=[states], every=3)
    def train(ctx, batch):
        model = ctx.state.setdefault("model", nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.1), nn.Linear(8, 4)))
        opt = ctx.state.setdefault("opt", hy.optim.Adam(model.parameters(), lr=1e-2))
        for u in batch:
            loss = ((model(u.reshape(1, 4)) - u) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        ctx.state["seen"] = ctx.state.get("seen", 0) + len(batch)

    kwargs = {} if ckpt == "-" else {"checkpoint_every": 4, "checkpoint_dir": ckpt, "resume": resume}
    result = wf.run(steps=STEPS, **kwargs)
    train = result.state["train"]
    flat = {"u": result.state["simulate"]["u"], "seen": hy.tensor([train["seen"]])}
    for name, p in train["model"].named_parameters():
        flat["param." + name] = p.detach()
    for i, per_param in train["opt"].state_dict()["state"].items():
        for key, value in per_param.items():
            flat[f"opt.{i}.{key}"] = value if isinstance(value, hy.Tensor) else hy.tensor([value])
    hy.save(flat, out)
    print("START", result.start_step, flush=True)
''')


def launch(script, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(proc, what):
    """The step the process's run started from."""
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "START" in out, f"{what} failed (rc={proc.returncode}):\n{err[-3000:]}"
    return int(out.split("START")[1].split()[0])


def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path):
    script = tmp_path / "killable.py"
    script.write_text(SCRIPT)
    ckpt, log = tmp_path / "ckpt", tmp_path / "steps.log"

    reference = launch(script, "-", tmp_path / "reference.safetensors", tmp_path / "reference.log", 0)
    victim = launch(script, ckpt, tmp_path / "unused.safetensors", log, 0)
    deadline = time.monotonic() + 90
    while not (ckpt.exists() and list_checkpoints(ckpt)):
        assert victim.poll() is None, f"the run ended before its first checkpoint:\n{victim.communicate()[1]}"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=60)
    assert victim.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (tmp_path / "unused.safetensors").exists()

    resumed = launch(script, ckpt, tmp_path / "resumed.safetensors", log, 1)
    start = finish(resumed, "the resumed run")
    assert finish(reference, "the uninterrupted run") == 0
    assert start > 0 and start % 4 == 0

    expected, got = hy.load(tmp_path / "reference.safetensors"), hy.load(tmp_path / "resumed.safetensors")
    assert sorted(expected) == sorted(got) and any(k.startswith("opt.") for k in got)
    for key in expected:
        assert np.array_equal(expected[key].numpy(), got[key].numpy()), key

    by_pid = {}
    for pid, step in (map(int, line.split()) for line in log.read_text().splitlines()):
        by_pid.setdefault(pid, []).append(step)
    first, second = by_pid[victim.pid], by_pid[resumed.pid]
    assert set(by_pid) == {victim.pid, resumed.pid}
    assert second == list(range(start, 24))                    # the resumed process starts at its checkpoint
    assert first[:start] == list(range(start))                 # the steps before it ran only in the first
    assert sorted(set(first) | set(second)) == list(range(24))
