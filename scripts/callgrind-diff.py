#!/usr/bin/env python3
"""Per-function instruction difference between two callgrind files, per call.

usage: scripts/callgrind-diff.py LOW_FILE HIGH_FILE CALLS [--inclusive] [N]
Prints the N (default 40) functions whose count grew most from LOW to HIGH, divided by CALLS
(the difference in requests between the two runs): what one request costs, start-up left out.
"""
import re
import subprocess
import sys


def counts(path, inclusive):
    args = ["callgrind_annotate", "--threshold=100", "--auto=no"]
    if inclusive:
        args.append("--inclusive=yes")
    out = subprocess.run(args + [path], capture_output=True, text=True, check=True).stdout
    table = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(.*)$", line)
        if m and "PROGRAM TOTALS" not in line:
            name = re.sub(r" \[[^\]]*\]$", "", m.group(2))
            name = name.split(":", 1)[-1] if ":" in name else name
            table[name] = table.get(name, 0) + int(m.group(1).replace(",", ""))
    return table


def main():
    argv = [a for a in sys.argv[1:] if not a.startswith("--")]
    inclusive = "--inclusive" in sys.argv
    low, high, calls = argv[0], argv[1], int(argv[2])
    top = int(argv[3]) if len(argv) > 3 else 40
    a, b = counts(low, inclusive), counts(high, inclusive)
    rows = sorted(((b[k] - a.get(k, 0)) / calls, k) for k in b)
    for per, name in reversed(rows[-top:]):
        print(f"{per / 1e3:10.1f} k  {name[:170]}")


main()
