"""Which package versions ran, against the lock file they should have come from.

The README installs from requirements.lock: exact versions with hashes, made from
pyproject.toml by `bash .ci/lock`. Same config and seed give the same bytes only with the
same numpy (and OpenBLAS inside its wheel), matplotlib and Snakemake, so the report shows
the lock file's SHA-256 beside the versions actually imported, and one warning line when
they differ from the lock's.

    env = environment.check("requirements.lock")
    env["versions"]  # {"numpy": {"imported": "2.4.6", "locked": "2.4.6"}, ...}
    env["warning"]   # None, or one line naming each package that differs

It also tells whether Slurm's controller answers where the Slurm executor plugin is installed
(`slurm_controller`), for workflow/rules/slurm.smk.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import platform
import re
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from packaging.markers import InvalidMarker, Marker
from packaging.version import InvalidVersion, Version

# distribution name -> module whose __version__ is what this process runs (None: metadata only);
# matplotlib's own dependencies too, since they shape the figures' bytes
PACKAGES = {
    "numpy": "numpy",
    "matplotlib": "matplotlib",
    "snakemake": "snakemake",
    "pyyaml": "yaml",
    "pillow": "PIL",
    "jsonschema": None,
    "contourpy": None,
    "kiwisolver": None,
    "fonttools": None,
    "pyparsing": None,
    "cycler": None,
}
MAX_LOCK_BYTES = 10 * 2**20  # ours is about 140 kB; a bigger file is not a lock we wrote
# `name==version` or `name==version ; marker`, then ` \` before the hash lines
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]*?))?\s*\\?\s*$")


def normalize(name: str) -> str:
    """PEP 503 form, so PyYAML and pyyaml, or jupyter_core and jupyter-core, compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_versions(packages=PACKAGES) -> dict[str, str]:
    """{package: version} as this interpreter imports it ("not installed" if it cannot)."""
    found = {"python": platform.python_version()}
    for dist, module in packages.items():
        try:
            # __version__ of the module actually imported, which a stray copy on sys.path would change
            found[dist] = str(importlib.import_module(module).__version__) if module else metadata.version(dist)
        except (ImportError, AttributeError, metadata.PackageNotFoundError):
            found[dist] = "not installed"
    return found


def read_lock(path) -> tuple[dict[str, str], str]:
    """({normalized name: version} for this platform, sha256 of the file) from a requirements lock.

    Lines whose environment marker is false here (e.g. `; sys_platform == 'win32'`) are left
    out. Raises ValueError naming the file if it is too big or has no pins.
    """
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read(MAX_LOCK_BYTES + 1)
    if len(data) > MAX_LOCK_BYTES:
        raise ValueError(f"{path}: over {MAX_LOCK_BYTES // 2**20} MB, not a lock file")
    pins = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        m = PIN.match(line)
        if not m:
            continue
        name, version, marker = m.groups()
        try:
            if marker and not Marker(marker).evaluate():
                continue
        except InvalidMarker:
            raise ValueError(f"{path}: bad environment marker {marker!r} for {name}") from None
        pins[normalize(name)] = version
    if not pins:
        raise ValueError(f"{path}: no 'name==version' lines, not a requirements lock")
    return pins, hashlib.sha256(data).hexdigest()


def same_version(a: str, b: str | None) -> bool:
    if b is None:
        return False
    try:
        return Version(a) == Version(b)  # 2.4 == 2.4.0
    except InvalidVersion:
        return a == b


def mismatch_warning(versions: dict[str, dict], lock_name: str) -> str | None:
    """One line naming every package whose imported version is not the locked one, or None."""
    differ = [
        f"{name} {v['imported']} (lock: {v['locked'] or 'not in the lock'})"
        for name, v in versions.items()
        if not same_version(v["imported"], v["locked"])
    ]
    if not differ:
        return None
    return (
        f"These versions differ from {lock_name}: {', '.join(differ)}; results may not be byte-identical "
        f"to a run installed from the lock."
    )


def check(lock_path, packages=PACKAGES) -> dict:
    """What ran against what the lock says.

    {"lock": file name, "lock_sha256": hex or None, "python": version,
     "versions": {package: {"imported": v, "locked": v or None}}, "warning": one line or None}
    A missing or unreadable lock is a warning, not an error: the report still gets written.
    """
    lock_path = Path(lock_path)
    imported = imported_versions(packages)
    python = imported.pop("python")
    try:
        pins, digest = read_lock(lock_path)
    except (OSError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        return {
            "lock": lock_path.name,
            "lock_sha256": None,
            "python": python,
            "versions": {name: {"imported": v, "locked": None} for name, v in imported.items()},
            "warning": f"Cannot check the versions against {lock_path.name}: {reason}.",
        }
    versions = {name: {"imported": v, "locked": pins.get(normalize(name))} for name, v in imported.items()}
    return {
        "lock": lock_path.name,
        "lock_sha256": digest,
        "python": python,
        "versions": versions,
        "warning": mismatch_warning(versions, lock_path.name),
    }


def slurm_controller(timeout: float = 5.0) -> tuple[str, str] | None:
    """("up" | "down" | "unreachable", one line from Slurm) where the Slurm executor plugin and
    Slurm's `scontrol` are both installed; None elsewhere (nothing to ask).

    `scontrol ping` answers in milliseconds even when the controller is down ("down": a
    configured controller that does not run). "unreachable": Slurm has no configuration here,
    or `scontrol` failed otherwise. The plugin's own probe when Snakemake starts, `scontrol
    show config`, instead waits out Slurm's MessageTimeout (10 s by default) in that case.
    """
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None or shutil.which("scontrol") is None:
        return None
    try:
        proc = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "unreachable", f"scontrol ping gave no answer within {timeout:g} s"
    except OSError as e:
        return "unreachable", f"scontrol ping: {e.strerror or e}"
    said = [line.strip() for line in (proc.stdout + proc.stderr).splitlines() if line.strip().strip("*")]
    first = said[0] if said else f"scontrol ping exited with status {proc.returncode}"
    if proc.returncode == 0 and first.endswith(" is UP"):
        return "up", first
    return ("down" if first.endswith(" is DOWN") else "unreachable"), first
