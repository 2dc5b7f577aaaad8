"""Every ```python block of README.md and docs/*.md runs (issue 14: the docs must not lie).

The blocks of one page run in order, in one namespace (a page reads like a notebook: a later block may
use what an earlier one defined), in a subprocess of their own (a crash fails that page, not pytest),
in a temporary folder (blocks may write files). A failure names the page and the line in it.

Marking (docs/development.md, "Code blocks in the docs"), in the info string after `python`:
  ```python fragment          not run: a piece of a larger program (names it does not define, `...`)
  ```python no-run: REASON    not run, with the reason (needs MPI, a GPU, minutes of compute, ...)
Blocks written as an interactive session (`>>>` lines) run their `>>>`/`...` lines; the printed
results are not compared (they show one machine's values).
"""
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,}|~{3,})(?P<info>.*)$")
PAGE_TIMEOUT_S = 60


def extract_blocks(text):
    """[(first line number of the code, info string, code)] for every fenced block of the page."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, ticks, info = m.group("indent"), m.group("ticks"), m.group("info").strip()
        body, j = [], i + 1
        while j < len(lines) and not re.match(rf"^[ \t]*{re.escape(ticks[0])}{{{len(ticks)},}}[ \t]*$", lines[j]):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        blocks.append((i + 2, info, "\n".join(body)))
        i = j + 1
    return blocks


def python_blocks(text):
    """The blocks to run: [(line, code)], and the skipped ones: [(line, why)]. A bad marker is an error."""
    run, skipped = [], []
    for line, info, code in extract_blocks(text):
        words = info.split(None, 1)
        if not words or words[0] != "python":
            continue
        marker = words[1] if len(words) > 1 else ""
        if marker == "":
            run.append((line, session_to_code(code)))
        elif marker == "fragment":
            skipped.append((line, "fragment"))
        elif marker.startswith("no-run:") and marker[len("no-run:"):].strip():
            skipped.append((line, marker))
        else:
            raise ValueError(f"line {line}: unknown marker {marker!r} after ```python "
                             "(use 'fragment' or 'no-run: reason')")
    return run, skipped


def session_to_code(code):
    """A `>>>` session becomes its input lines; other code is returned as it is."""
    if not code.lstrip().startswith(">>>"):
        return code
    out = []
    for line in code.splitlines():
        if line.startswith(">>> ") or line == ">>>":
            out.append(line[4:])
        elif line.startswith("... ") or line == "...":
            out.append(line[4:])
        else:
            out.append("")  # printed output: keep the line numbers
    return "\n".join(out)


def run_page(path):
    """Runs in the subprocess: execute the page's blocks in order; print one JSON line per block."""
    import traceback
    run, _ = python_blocks(pathlib.Path(path).read_text(encoding="utf-8"))
    namespace = {"__name__": "__main__"}
    shown = shown_path(path)
    for line, code in run:
        # Padded with empty lines so tracebacks and the report show the line in the .md file.
        source = "\n" * (line - 1) + code
        try:
            exec(compile(source, shown, "exec"), namespace)
        except BaseException as e:  # noqa: BLE001 — reported, not handled
            tb = traceback.extract_tb(e.__traceback__)
            at = next((f.lineno for f in reversed(tb) if f.filename == shown), line)
            print(json.dumps({"line": line, "at": at, "error": f"{type(e).__name__}: {e}",
                              "traceback": "".join(traceback.format_exception(e))}), flush=True)
            return 1
        print(json.dumps({"line": line, "ok": True}), flush=True)
    return 0


def run_page_in_subprocess(page, cwd):
    """(the reports of the blocks that ran, the finished process); the subprocess is this file's main."""
    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"
    done = subprocess.run([sys.executable, __file__, str(page)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=PAGE_TIMEOUT_S)
    return [json.loads(x) for x in done.stdout.splitlines() if x.startswith("{")], done


def shown_path(page):
    page = pathlib.Path(page).resolve()
    return os.path.relpath(page, ROOT) if page.is_relative_to(ROOT) else str(page)


def _has_blocks_to_run(page):
    try:
        return bool(python_blocks(page.read_text(encoding="utf-8"))[0])
    except ValueError:
        return True   # a bad marker: let the test below report it


# Pages without a python block (design.md, cuda.md, ...) have nothing to run: only their markers are checked
# (test_every_page_parses), so no test is collected just to be skipped.
RUNNABLE = [p for p in PAGES if _has_blocks_to_run(p)]


@pytest.mark.parametrize("page", PAGES, ids=[os.path.relpath(p, ROOT) for p in PAGES])
def test_every_page_parses(page):
    try:
        python_blocks(page.read_text(encoding="utf-8"))
    except ValueError as e:
        pytest.fail(f"{shown_path(page)}:{e}")


@pytest.mark.parametrize("page", RUNNABLE, ids=[os.path.relpath(p, ROOT) for p in RUNNABLE])
def test_python_blocks_run(page, tmp_path):
    shown = shown_path(page)
    try:
        run, _ = python_blocks(page.read_text(encoding="utf-8"))
    except ValueError as e:
        pytest.fail(f"{shown}:{e}")
    try:
        reports, done = run_page_in_subprocess(page, tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{shown}: its blocks ran past {PAGE_TIMEOUT_S} s (mark a heavy one `no-run: reason`)")
    failed = [r for r in reports if "error" in r]
    if failed:
        r = failed[0]
        pytest.fail(f"{shown}:{r['at']}: the block at line {r['line']} raised {r['error']}\n{r['traceback']}",
                    pytrace=False)
    if done.returncode != 0 or len(reports) != len(run):
        pytest.fail(f"{shown}: the page's blocks did not all run (exit status {done.returncode}, {len(reports)} of "
                    f"{len(run)} reported)\n{done.stderr[-3000:]}", pytrace=False)


def test_a_failing_block_is_reported_with_its_page_and_line(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# title\n\n```python\nx = 1\n```\n\n```python\ny = x + 1\nz = y / 0\n```\n")
    reports, _ = run_page_in_subprocess(page, tmp_path)
    assert reports[0] == {"line": 4, "ok": True}
    assert reports[1]["line"] == 8 and reports[1]["at"] == 9  # the page's line numbers
    assert reports[1]["error"] == "ZeroDivisionError: division by zero"
    assert f'File "{page}", line 9' in reports[1]["traceback"]


def test_markers_are_read():
    page = textwrap.dedent("""\
        text
        ```python
        x = 1
        ```
        - a list item:
          ```python fragment
          y = undefined
          ```
        ```python no-run: needs MPI
        comm.bcast(x)
        ```
        ```bash
        ls
        ```
        ```python
        >>> x + 1
        2
        ```
        """)
    run, skipped = python_blocks(page)
    assert run == [(3, "x = 1"), (16, "x + 1\n")]
    assert skipped == [(7, "fragment"), (10, "no-run: needs MPI")]
    with pytest.raises(ValueError, match="line 2: unknown marker 'fragmnt'"):
        python_blocks("```python fragmnt\nx\n```\n")


if __name__ == "__main__":
    sys.exit(run_page(sys.argv[1]))
