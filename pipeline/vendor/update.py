"""Fetch the Vega builds that `python -m pipeline publish` inlines into the plots page, from the npm registry.

    python pipeline/vendor/update.py                      # the versions in versions.json, again
    python pipeline/vendor/update.py vega@5 vega-lite@5 vega-embed@6   # the newest of each major version

Needs npm and the registry. Writes, beside this file: each package's minified browser build, its LICENSE,
THIRD-PARTY-LICENSES.txt (the licence of every package bundled into those builds, found from their source
maps) and versions.json (version, tarball integrity, SHA-256 of each vendored file).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
BUILDS = {"vega": "build/vega.min.js", "vega-lite": "build/vega-lite.min.js", "vega-embed": "build/vega-embed.min.js"}
LICENCE_NAMES = ("LICENSE", "LICENSE.md", "LICENSE.txt", "LICENCE", "license", "LICENSE-MIT.txt", "COPYING")
# vega's own tarball ships no LICENSE; its monorepo's packages carry the same text (BSD-3-Clause, UW IDL).
SAME_LICENCE_AS = {"vega": "vega-view"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def licence_text(modules: Path, package: str) -> str | None:
    for name in LICENCE_NAMES:
        if (modules / package / name).is_file():
            return (modules / package / name).read_text(encoding="utf-8").strip()
    return None


def bundled_packages(source_map: Path) -> set[str]:
    """npm packages whose code a build bundles: node_modules/<package>/ in its source map's sources."""
    sources = json.loads(source_map.read_text(encoding="utf-8"))["sources"]
    found = {match.group(1) for source in sources if (match := re.search(r"node_modules/((?:@[^/]+/)?[^/]+)/", source))}
    # vega's build bundles its monorepo siblings by relative path (../../vega-util/build/...)
    found |= {match.group(1) for source in sources if (match := re.match(r"(?:\.\./)+(vega-[a-z-]+)/build/", source))}
    return found


def main(specs: list[str]) -> int:
    if not specs:
        pinned = json.loads((HERE / "versions.json").read_text(encoding="utf-8"))
        specs = [f"{name}@{entry['version']}" for name, entry in pinned.items()]
    with tempfile.TemporaryDirectory() as work:
        work_path = Path(work)
        (work_path / "package.json").write_text('{"private": true}')
        subprocess.run(["npm", "install", "--ignore-scripts", "--no-audit", "--no-fund", "--silent", *specs],
                       cwd=work, check=True)
        modules = work_path / "node_modules"
        lock = json.loads((work_path / "package-lock.json").read_text(encoding="utf-8"))["packages"]
        versions, bundled = {}, set()
        for name, build in BUILDS.items():
            source = modules / name / build
            target = HERE / source.name
            shutil.copyfile(source, target)
            text = licence_text(modules, SAME_LICENCE_AS.get(name, name))
            (HERE / f"LICENSE-{name}.txt").write_text(text + "\n", encoding="utf-8")
            entry = lock[f"node_modules/{name}"]
            versions[name] = {"version": entry["version"], "integrity": entry["integrity"], "file": target.name,
                              "sha256": sha256(target), "spdx": entry["license"], "license": f"LICENSE-{name}.txt"}
            bundled |= bundled_packages(modules / name / f"{build}.map")
        parts = ["Packages bundled into vega.min.js, vega-lite.min.js and vega-embed.min.js (from their source maps),",
                 "with the licence each ships. Versions are those npm installs beside the vendored builds.", ""]
        for package in sorted(bundled - set(BUILDS)):
            manifest = json.loads((modules / package / "package.json").read_text(encoding="utf-8"))
            text = licence_text(modules, package) or licence_text(modules, SAME_LICENCE_AS.get("vega"))
            if not licence_text(modules, package):
                text = f"(no licence file in the package; {manifest.get('license')}, the vega monorepo's:)\n\n{text}"
            parts += ["=" * 100, f"{package} {manifest['version']} ({manifest.get('license')})", "=" * 100, "",
                      text, ""]
        (HERE / "THIRD-PARTY-LICENSES.txt").write_text("\n".join(parts), encoding="utf-8")
        (HERE / "versions.json").write_text(json.dumps(versions, indent=2) + "\n", encoding="utf-8")
    for name, entry in versions.items():
        print(f"{name} {entry['version']}: {entry['file']} {(HERE / entry['file']).stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
