"""Vendor a pinned copy of D3 into the default theme.

Why: the site must serve D3 itself (no CDN, no third-party requests), and the
file we ship must be exactly the published release. This script fetches the
package with the ordinary npm client (whatever registry npm is configured
for), checks the minified bundle against a pinned SHA-256 and writes
``d3.min.js``, ``LICENSE`` and ``VERSION`` under
``themes/default/static/vendor/d3/``.

Usage: ``python scripts/fetch_d3.py [--check]``. With ``--check`` nothing is
written; the script only verifies that the committed file matches the pin.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

D3_VERSION = "7.9.2"
D3_SHA256 = "912111098ea99503a6f4967361d2bbdc9dbf58cf9c678c8e27e5b02d1a07f0c1"
ROOT = Path(__file__).resolve().parent.parent
VENDOR_DIR = ROOT / "themes" / "default" / "static" / "vendor" / "d3"
MEMBERS = {"package/dist/d3.min.js": "d3.min.js", "package/LICENSE": "LICENSE"}


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data`` (the pin is compared against this)."""
    return hashlib.sha256(data).hexdigest()


def version_text(version: str, digest: str) -> str:
    """Contents of the VERSION file: what is vendored and how to refresh it."""
    return (
        f"d3 {version}\n"
        f"sha256(d3.min.js) {digest}\n"
        "source: npm package d3, files dist/d3.min.js and LICENSE, unmodified\n"
        "licence: ISC (see LICENSE)\n"
        "refresh: edit D3_VERSION and D3_SHA256 in scripts/fetch_d3.py, then run\n"
        "         python scripts/fetch_d3.py   (uses `npm pack d3@<version>`)\n"
    )


def npm_pack(version: str, workdir: Path) -> Path:
    """Download the package tarball with the npm client and return its path."""
    result = subprocess.run(
        ["npm", "pack", f"d3@{version}", "--silent"],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    )
    name = result.stdout.strip().splitlines()[-1]
    return workdir / name


def extract(tarball: Path) -> dict[str, bytes]:
    """Read the files we vendor out of the tarball, without unpacking it to disk."""
    found: dict[str, bytes] = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for member, target in MEMBERS.items():
            handle = tar.extractfile(member)
            if handle is None:
                raise SystemExit(f"{member} missing from {tarball.name}")
            found[target] = handle.read()
    return found


def check_committed(vendor_dir: Path = VENDOR_DIR) -> bool:
    """True when the committed d3.min.js still matches the pinned hash."""
    path = vendor_dir / "d3.min.js"
    return path.is_file() and sha256_hex(path.read_bytes()) == D3_SHA256


def main(argv: list[str] | None = None) -> int:
    """Fetch, verify and write; return a process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the committed file")
    args = parser.parse_args(argv)
    if args.check:
        ok = check_committed()
        print("d3.min.js matches the pin" if ok else "d3.min.js does NOT match the pin")
        return 0 if ok else 1
    with tempfile.TemporaryDirectory() as tmp:
        files = extract(npm_pack(D3_VERSION, Path(tmp)))
    digest = sha256_hex(files["d3.min.js"])
    if digest != D3_SHA256:
        print(f"sha256 mismatch: got {digest}, pinned {D3_SHA256}", file=sys.stderr)
        return 1
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (VENDOR_DIR / name).write_bytes(data)
    (VENDOR_DIR / "VERSION").write_text(version_text(D3_VERSION, digest), encoding="utf-8")
    print(f"vendored d3 {D3_VERSION} ({len(files['d3.min.js'])} bytes) into {VENDOR_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
