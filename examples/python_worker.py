#!/usr/bin/env python3
"""A minimal tend worker (docs/protocol.md): three tests in one unit.

Standard library plus the msgpack package. Run it as `tend run ./python_worker.py`.
"""
import os
import struct
import sys
import tempfile
import time
import traceback

import msgpack

MAX_FRAME = 16 * 1024 * 1024  # largest payload either side accepts
CAP = 1024 * 1024             # bytes of each output stream kept per test

# ---- the tests: a test's id is its index in TESTS ---------------------------
teardowns = []  # run at finalize, last registered first


def test_adds():
    print("adding")  # lands in this test's captured stdout
    teardowns.append(lambda: print("unit teardown ran"))
    assert 1 + 1 == 2


def test_fails():
    assert 2 * 2 == 5, "arithmetic is broken"


def skip(fn):
    """Marks a test skipped by default: listed with "skip", run only when a
    `run` asks for it with "run_skipped" (tend run --run-ignored)."""
    fn.skip = True
    return fn


@skip
def test_not_ready():
    assert False, "not written yet"


TESTS = [test_adds, test_fails, test_not_ready]

# ---- transport ---------------------------------------------------------------


def die(why):
    os.write(REAL_STDERR, b"python worker: " + why.encode() + b"\n")
    sys.exit(3)


LIST_CHUNK = 10000  # tests per `tests` frame


def length_check(n):
    """The header's last two bytes: the length's halves XORed with 0x5AA5."""
    return (n >> 16) ^ (n & 0xFFFF) ^ 0x5AA5


def read_frame(f):
    """The next message, or None at end of file between frames."""
    head = f.read(8)
    if not head:
        return None
    if len(head) < 8:
        die("stream ended inside a frame header")
    magic, n, check = struct.unpack(">2sIH", head)
    if magic != b"TN" or check != length_check(n):
        die(f"not a frame header: {head.hex(' ')}")
    if n == 0 or n > MAX_FRAME:
        die(f"bad frame length {n}")
    payload = f.read(n)
    if len(payload) < n:
        die("stream ended inside a frame")
    return msgpack.unpackb(payload, raw=False)


def send(f, msg):
    payload = msgpack.packb(msg, use_bin_type=True)  # str -> str, bytes -> bin
    n = len(payload)
    try:
        f.write(struct.pack(">2sIH", b"TN", n, length_check(n)) + payload)
        f.flush()
    except BrokenPipeError:
        sys.exit(0)  # the supervisor is gone


# ---- output capture and health -----------------------------------------------


CAPTURE_FILES = []  # kept open for the worker's life


def redirect(fd):
    """Points `fd` at a fresh temporary file; returns that file's descriptor."""
    tmp = tempfile.TemporaryFile()
    CAPTURE_FILES.append(tmp)
    os.dup2(tmp.fileno(), fd)
    return tmp.fileno()


def drain(fd):
    """What was written since the last drain, capped to the last CAP bytes."""
    size = os.lseek(fd, 0, os.SEEK_CUR)  # shared with fd 1 or 2: bytes written
    keep = min(size, CAP)
    data = os.pread(fd, keep, size - keep)
    if size > keep:
        data = (b"[tend: %d earlier bytes of this output dropped; last %d kept]\n"
                % (size - keep, keep)) + data
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    return data


def take_output():
    sys.stdout.flush()
    sys.stderr.flush()
    return drain(OUT_FILE), drain(ERR_FILE)


def health():
    h = {}  # a reading that cannot be taken is left out, never guessed
    try:
        with open("/proc/self/statm") as f:
            h["rss_bytes"] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        h["open_fds"] = len(os.listdir("/proc/self/fd")) - 1  # minus listdir's own
    except OSError:
        pass
    return h


# ---- running -----------------------------------------------------------------


def run_test(fn):
    failures = []
    start = time.monotonic_ns()
    try:
        fn()
        status = "passed"
    except Exception as e:
        status = "failed"
        frame = traceback.extract_tb(e.__traceback__)[-1]
        failures.append({
            "file": frame.filename, "line": frame.lineno or 0,
            "kind": "assert" if isinstance(e, AssertionError) else "exception",
            "expression": frame.line or "", "expanded": "",
            "message": str(e) or type(e).__name__, "subcase": "",
        })
    return status, time.monotonic_ns() - start, failures


def serve(commands, results):
    send(results, {"type": "hello", "version": 3, "pid": os.getpid(),
                   "framework": "python-minimal"})
    pending = []  # a long unit's request comes in chunks ("more": true)
    while True:
        msg = read_frame(commands)
        kind = msg.get("type") if isinstance(msg, dict) else None
        if msg is None or kind == "shutdown":
            return 0
        if kind == "list":
            listing = [
                {"id": i, "name": fn.__name__, "suite": "", "file": os.path.abspath(__file__),
                 "line": fn.__code__.co_firstlineno, "skip": getattr(fn, "skip", False),
                 "timeout": 0.0}
                for i, fn in enumerate(TESTS)]
            # A long list goes in chunks, each far under the frame limit.
            for at in range(0, max(len(listing), 1), LIST_CHUNK):
                chunk = {"type": "tests", "tests": listing[at:at + LIST_CHUNK]}
                if at + LIST_CHUNK < len(listing):
                    chunk["more"] = True
                send(results, chunk)
        elif kind == "run":
            pending += msg["tests"]
            if msg.get("more"):
                continue
            refs, pending = pending, []
            run_skipped = msg.get("run_skipped", False)
            bad = [r for r in refs if not (0 <= r["id"] < len(TESTS)
                                           and TESTS[r["id"]].__name__ == r["name"])]
            if bad:
                send(results, {"type": "error", "message": f"no test named {bad[0]['name']!r}"})
                continue
            for ref in refs:  # results go back in the order asked
                fn = TESTS[ref["id"]]
                take_output()  # output between tests belongs to no test
                if getattr(fn, "skip", False) and not run_skipped:
                    status, duration, failures = "skipped", 0, []
                else:
                    status, duration, failures = run_test(fn)
                out, err = take_output()
                send(results, {"type": "result", "unit": msg["unit"], "id": ref["id"],
                               "status": status, "duration_ns": duration, "health": health(),
                               "failures": failures, "stdout": out, "stderr": err})
        elif kind == "finalize":
            take_output()
            errors = []
            while teardowns:
                try:
                    teardowns.pop()()
                except Exception as e:
                    errors.append(f"teardown threw: {e}")
            out, err = take_output()
            send(results, {"type": "finalized", "unit": msg["unit"], "health": health(),
                           "stdout": out, "stderr": err, "errors": errors})
        else:
            die(f"unexpected message {kind!r}")


if __name__ == "__main__":
    spec = os.environ.pop("TEND_WORKER_FDS", None)  # unset: children must not see it
    if spec is None:
        sys.exit("python_worker.py: run me with `tend run`")
    in_fd, out_fd = (int(x) for x in spec.split(","))
    os.set_inheritable(in_fd, False)  # close-on-exec: tests' children must not
    os.set_inheritable(out_fd, False)  # inherit the protocol pipes
    REAL_STDERR = os.dup(2)  # the supervisor's stderr tail, for our own complaints
    OUT_FILE, ERR_FILE = redirect(1), redirect(2)
    try:
        sys.exit(serve(os.fdopen(in_fd, "rb"), os.fdopen(out_fd, "wb")))
    except Exception:
        die(traceback.format_exc())  # fd 2 is captured: say it on the real stderr
