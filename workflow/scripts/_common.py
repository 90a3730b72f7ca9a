"""What every Snakemake `script:` here shares: a log, and one clear line when it fails.

Snakemake 9 runs a `script:` as `python .snakemake/scripts/tmpXXXX.<name>.py`: a copy of
the script behind a preamble that unpickles the `snakemake` object into the module's
globals and sets `__file__` back to the real script. So a script in this folder reads:

    import os
    import sys
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import _common  # noqa: E402

    def main(log):
        log("something worth knowing")  # one line in snakemake.log[0], flushed at once
        ...  # read snakemake.input / params, call nn, write snakemake.output

    _common.run(main)

run(main) opens the job's log (snakemake.log[0]; stderr if the rule has no log:) and
calls main(log). A ValueError or OSError (every nn error is one: IdxError, DataError,
DownloadError, ...) means bad input or a failed fetch, not a bug: its message goes to the
log and to stderr, and the job exits with status 1 and no traceback. Anything else is
a bug: its traceback goes to the log and the exception propagates as usual.

Ctrl-C (SIGINT) prints one line, `interrupted (Ctrl-C) in rule <rule> (<wildcards>); outputs
not written` (to stderr, and to the log once main runs), never a KeyboardInterrupt traceback,
wherever it lands: importing this module (the first thing every script does, before numpy or
matplotlib) installs a sys.excepthook that prints that line for an uncaught KeyboardInterrupt.
A Ctrl-C still raises KeyboardInterrupt, so `finally:` blocks remove temporary files, and the
job then dies of SIGINT as Python ends any interrupted program; a second Ctrl-C is ignored.
Snakemake's own preamble runs before any of this: the Snakefile starts every job with SIGINT
blocked (`env --block-signal=INT`, workflow/rules/common.smk), so a Ctrl-C there stays pending
until this module unblocks it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import traceback
from pathlib import Path

# The nn package beside this workflow comes first, not whichever copy is installed, so a
# checkout (or a test's copy of the project) always runs its own code.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def interrupted_line(snakemake) -> str:
    """The one line an interrupted job prints: its rule and wildcards."""
    rule = getattr(snakemake, "rule", None) or "?"
    try:
        where = ", ".join(f"{k}={v}" for k, v in snakemake.wildcards.items())
    except (AttributeError, TypeError):
        where = ""
    return f"interrupted (Ctrl-C) in rule {rule}" + (f" ({where})" if where else "") + "; outputs not written"


def _on_sigint(signum, frame) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not break the cleanup
    raise KeyboardInterrupt


def _say(line: str) -> None:
    """A job's closing line on stderr, in one write with its newline: Snakemake and the other jobs
    write to the same stream (at a Ctrl-C, Snakemake's "Terminating processes ..."), and a line
    written in two parts, as print and sys.exit(str) write it, can get theirs in between."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _excepthook(kind, value, tb, previous=sys.excepthook) -> None:
    if issubclass(kind, KeyboardInterrupt):  # Python then ends the process with SIGINT
        _say(interrupted_line(getattr(sys.modules["__main__"], "snakemake", None)))
    else:
        previous(kind, value, tb)


def _in_a_job() -> None:
    """Only in a job (Snakemake's preamble put `snakemake` into __main__ before this import), not
    in a process that imports this module to test it. Unblocks SIGINT: the job started with it
    blocked, and a Ctrl-C pending since then arrives now, to the handler."""
    if not hasattr(sys.modules.get("__main__"), "snakemake"):
        return
    sys.excepthook = _excepthook
    signal.signal(signal.SIGINT, _on_sigint)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


_in_a_job()


from nn.pipeline import numerics  # noqa: E402 (imports no numpy: it must pin before numpy loads)


def _numerics_mode() -> str:
    snakemake = getattr(sys.modules["__main__"], "snakemake", None)
    config = getattr(snakemake, "config", None) or {}  # a test's stand-in may have no config
    return config.get("numerics") or "pinned"


# Pinned numerics (config `numerics`, docs/interfaces.md): OpenBLAS's Haswell kernel and numpy's
# dispatch capped at AVX2/FMA, whatever the caller's environment held, set here because every
# script imports this module before numpy. A process that already loaded numpy (a test calling a
# script in-process) is left as it is: the settings could not take effect in it anyway.
NUMERICS = _numerics_mode()
if "numpy" not in sys.modules:
    numerics.pin(NUMERICS)


def numerics_lines() -> list[str]:
    """What this job computes with, and, where that is not the reference's, why its bytes differ."""
    blas = numerics.blas_info()
    lines = [
        f"numerics {NUMERICS}: OpenBLAS {blas['version'] or '?'} kernel {blas['corename'] or '?'}, "
        f"numpy dispatch {' '.join(numerics.active_targets()) or 'baseline only'}"
    ]
    why = (
        numerics.honoured()
        if NUMERICS == "pinned"
        else "numerics: native (the config asks for this CPU's fastest code)"
    )
    if why:
        lines.append(f"WARNING: {why}; this job's result bytes will differ from the reference's")
    return lines


def run(main, snakemake=None) -> None:
    """Call main(log) with the job's log open; turn expected errors into one clear exit."""
    if snakemake is None:  # injected into the running script, which is __main__
        snakemake = sys.modules["__main__"].snakemake
    log_path = snakemake.log[0] if len(snakemake.log) else None
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    # Unbuffered: each line reaches the file at once (a crash or a kill keeps every line written so
    # far), and a line the disk had no room for is not kept to fail again when the file closes.
    with open(log_path, "wb", buffering=0) if log_path else contextlib.nullcontext(sys.stderr) as stream:

        def log(line) -> None:
            if not log_path:
                stream.write(f"{line}\n")
                stream.flush()
                return
            data = f"{line}\n".encode()
            try:
                while data:
                    data = data[stream.write(data) :]
            except OSError as e:  # a full disk: name the log, as atomic_path names an output
                raise OSError(e.errno, e.strerror, log_path) from None

        def log_too(line) -> None:
            """The closing line in the log as well, if the log can still take it."""
            if log_path:
                with contextlib.suppress(OSError):
                    log(line)

        try:
            for line in numerics_lines():
                log(line)
            main(log)
        except (ValueError, OSError) as e:
            message = f"error in rule {snakemake.rule}: {e}"
            log_too(message)
            _say(message)
            sys.exit(1)
        except KeyboardInterrupt:  # Ctrl-C: the line in the log; sys.excepthook prints it to stderr
            log_too(interrupted_line(snakemake))
            raise
        except Exception:
            log_too(traceback.format_exc().rstrip())  # without a log, Python prints it to stderr anyway
            raise
