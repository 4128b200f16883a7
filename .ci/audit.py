"""The locked dependencies against the known vulnerabilities (pip-audit, PyPI's advisory data).

Exits 1 when any locked release has a known vulnerability. When the advisory service cannot be
reached, pip-audit skips each package rather than failing; this says so in capitals, so an
audit that checked nothing is never read as a clean one, and exits 0 (it cannot judge), or 2
with --strict.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def audit(lock: Path) -> dict[str, list[dict[str, object]]]:
    done = subprocess.run(
        [
            sys.executable, "-m", "pip_audit", "--disable-pip", "--progress-spinner", "off",
            "--format", "json", "--requirement", str(lock),
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    try:
        return json.loads(done.stdout)  # type: ignore[no-any-return]
    except json.JSONDecodeError:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"pip-audit failed (exit {done.returncode})") from None


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    lock = Path(next((a for a in argv if not a.startswith("--")), "requirements.lock"))
    report = audit(lock)
    packages = report["dependencies"]
    vulnerable = [p for p in packages if p.get("vulns")]
    skipped = [p for p in packages if "skip_reason" in p]
    for package in vulnerable:
        for vuln in package["vulns"]:  # type: ignore[attr-defined]
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed release"
            print(f"VULNERABLE {package['name']} {package['version']}: {vuln['id']} ({fixed})")
    audited = len(packages) - len(skipped)
    print(f"pip-audit: {len(packages)} locked packages, {audited} audited, "
          f"{len(vulnerable)} with known vulnerabilities, {len(skipped)} not audited")
    if vulnerable:
        return 1
    if skipped:
        print(f"NOT AUDITED: {skipped[0]['skip_reason']}" + (" …" if len(skipped) > 1 else ""))
        if audited == 0:
            print("NOTHING WAS AUDITED: the advisory service could not answer from this machine")
            return 2 if strict else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
