"""Print the mutation score of the last `mutmut run`, per file and in total.

    python scripts/mutation_score.py [--min 80] [--survivors]

Reads the verdicts with `mutmut results --all true`. A mutant counts as detected when a
test failed on it or it ran past mutmut's time limit; the score is detected mutants over
all mutants that were checked. Exits 1 when the score is below --min.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

DETECTED = {"killed", "timeout", "caught by type check", "segfault"}
UNCHECKED = {"not checked", "skipped", "check was interrupted by user"}


def verdicts(mutmut: Path) -> dict[str, str]:
    listing = subprocess.run(
        [str(mutmut), "results", "--all", "true"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found: dict[str, str] = {}
    for line in listing.splitlines():
        name, separator, status = line.strip().rpartition(": ")
        if separator:
            found[name] = status
    return found


def module_of(mutant: str) -> str:
    # taskflow.tasks.service.x_update_task__mutmut_12 or taskflow.core.cache.xǁCacheǁstore__mutmut_3
    return re.split(r"\.x[_ǁ]", mutant, maxsplit=1)[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min", type=float, default=80.0, help="lowest passing score, in %%")
    parser.add_argument("--survivors", action="store_true", help="list surviving mutants")
    args = parser.parse_args()

    mutmut = Path(sys.executable).with_name("mutmut")
    found = verdicts(mutmut)
    if not found:
        print("no mutation results: run `make mutation` first", file=sys.stderr)
        return 2

    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for name, status in found.items():
        by_module[module_of(name)][status] += 1

    def score(counts: Counter[str]) -> tuple[int, int, float]:
        checked = sum(n for status, n in counts.items() if status not in UNCHECKED)
        detected = sum(counts[status] for status in DETECTED)
        return detected, checked, 100.0 * detected / checked if checked else 0.0

    print(f"{'module':40} {'detected':>9} {'checked':>8} {'score':>7}")
    total: Counter[str] = Counter()
    for module in sorted(by_module):
        counts = by_module[module]
        total.update(counts)
        detected, checked, percent = score(counts)
        print(f"{module:40} {detected:9} {checked:8} {percent:6.1f}%")
    detected, checked, percent = score(total)
    print(f"{'total':40} {detected:9} {checked:8} {percent:6.1f}%")
    print("verdicts: " + ", ".join(f"{n} {status}" for status, n in total.most_common()))

    if args.survivors:
        for name, status in sorted(found.items()):
            if status not in DETECTED | UNCHECKED:
                print(f"  {status}: {name}")

    if percent < args.min:
        print(f"mutation score {percent:.1f}% is below {args.min:.0f}%", file=sys.stderr)
        return 1
    print(f"mutation score {percent:.1f}% (at least {args.min:.0f}% required)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
