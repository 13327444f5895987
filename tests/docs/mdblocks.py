"""Reads the fenced blocks of a Markdown document and runs its command blocks for real.

A ```sh block is a list of shell commands (a line ending in a backslash continues the command);
in a ```console block the commands are the lines that start with `$ ` (and their continuation
lines), and the lines after a command, up to the next `$ ` line, are its output. ```json blocks
are documents, ```python blocks programs, ```text blocks anything else (never run).

Used by tests/docs/test_readme.py (README.md) and tests/attest (WALKTHROUGH.md).
`python3 mdblocks.py commands FILE` prints the commands of FILE's sh and console blocks, one a
line (continuations joined), for tests/attest/walkthrough.sh.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

LANGUAGES = ("sh", "console", "json", "python", "text")
RC_MARK = "\x1fmdblocks-rc "


class Block:
    def __init__(self, lang, body, line):
        self.lang, self.body, self.line = lang, body, line   # line: 1-based line of the opening fence

    def __repr__(self):
        first = self.body.strip().splitlines()[0] if self.body.strip() else ""
        return f"{self.lang} block at line {self.line} ({first[:60]!r})"


class Command:
    def __init__(self, text, output):
        self.text = text          # as written, continuation lines included
        self.output = output      # the lines the document shows after it (console blocks only)

    def one_line(self):
        return re.sub(r"\\\n\s*", "", self.text)


def blocks(text):
    """Every fenced block of TEXT, in order; an unterminated fence is an error."""
    out, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start, i, body = i + 1, i + 1, []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise ValueError(f"unterminated fence at line {start}")
        out.append(Block(m.group(1), "\n".join(body) + "\n", start))
        i += 1
    return out


def commands(block):
    """The commands of an sh or console block."""
    lines = block.body.rstrip("\n").split("\n")
    cmds = []
    if block.lang == "sh":
        cur = []
        for line in lines:
            if cur:
                cur.append(line)
            elif line.strip() and not line.lstrip().startswith("#"):
                cur = [line]
            if cur and not cur[-1].endswith("\\"):
                cmds.append(Command("\n".join(cur), []))
                cur = []
        if cur:
            raise ValueError(f"{block}: the last command ends in a backslash")
        return cmds
    if block.lang == "console":
        cur = None
        for line in lines:
            if cur is not None and cur.text.endswith("\\"):
                cur.text += "\n" + line
            elif line.startswith("$ "):
                cur = Command(line[2:], [])
                cmds.append(cur)
            elif cur is None:
                raise ValueError(f"{block}: output before the first `$ ` command: {line!r}")
            else:
                cur.output.append(line)
        return cmds
    raise ValueError(f"{block}: not a command block")


# What differs on every run, and only that: key ids (16 hex digits, unless a shortened digest
# "0123456789abcdef..."), and times (a layout's expiry is one year from the day it was made).
_KEY_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{16}(?![0-9a-f]|\.\.\.)")
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def normalize(line):
    return _TIME.sub("<time>", _KEY_ID.sub("<key id>", line.rstrip()))


def make_clone(source, build, into):
    """A copy of the source tree in INTO/modelseal, as a clone would be after `.ci/setup`: the
    tracked-looking files (no .git, no build folders, not the fuzzing corpus: no command in the
    README reads it, and its ~70,000 files took most of this test's time) and `build` pointing at
    the build to test. Returns its path."""
    root = os.path.join(into, "modelseal")
    fuzz = os.path.join(os.path.abspath(source), "tests", "fuzz")

    def ignore(folder, names):
        if os.path.abspath(folder) == fuzz:
            return [n for n in names if n == "corpus" or n == "__pycache__"]
        if os.path.abspath(folder) != os.path.abspath(source):
            return [n for n in names if n == "__pycache__"]
        return [n for n in names if n.startswith("build") or n.startswith(".git") or n == "__pycache__"]

    shutil.copytree(source, root, ignore=ignore, symlinks=True)
    os.symlink(os.path.abspath(build), os.path.join(root, "build"))
    return root


class Ran:
    def __init__(self, command, rc, output):
        self.command, self.rc, self.output = command, rc, output

    def lines(self):
        return self.output.split("\n") if self.output else []


def run_commands(cmds, cwd, env, timeout=300):
    """Runs CMDS in one `sh` process in CWD (so `cd` and variables carry over from one command to
    the next), stdout and stderr merged, stopping after the first command that exits non-zero.
    Returns one Ran per command that ran, and the whole transcript."""
    script = []
    for i, c in enumerate(cmds):
        script.append(c.text)
        script.append(f"__rc=$?; printf '\\n{RC_MARK}{i} %d\\n' \"$__rc\"; [ \"$__rc\" -eq 0 ] || exit 0")
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write("\n".join(script) + "\n")
        path = f.name
    try:
        proc = subprocess.run(["sh", path], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout, start_new_session=True)
    finally:
        os.unlink(path)
    transcript = proc.stdout.decode("utf-8", "replace")
    ran, rest = [], transcript
    for i, c in enumerate(cmds):
        m = re.search("\n" + re.escape(RC_MARK) + f"{i} (\\d+)\n", rest)
        if not m:
            ran.append(Ran(c, None, rest.rstrip("\n")))   # the shell itself stopped (syntax error)
            break
        out = rest[:m.start()]
        ran.append(Ran(c, int(m.group(1)), out[:-1] if out.endswith("\n") else out))
        rest = rest[m.end():]
        if ran[-1].rc != 0:
            break
    return ran, transcript


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "commands":
        sys.exit("usage: mdblocks.py commands FILE.md")
    with open(sys.argv[2], encoding="utf-8") as f:
        for b in blocks(f.read()):
            if b.lang in ("sh", "console"):
                for c in commands(b):
                    print(c.one_line())
