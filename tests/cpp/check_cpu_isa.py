#!/usr/bin/env python3
"""ctest `cpu_isa_guard`: the baseline libraries hold no instruction above the build's baseline CPU.

A portable build (docs/design.md, "CPU variants") is only portable if libhyflow_core.so and _C contain no
AVX (VEX-encoded) or AVX-512 (EVEX-encoded) instruction: an older CPU would die of SIGILL on the first
one it reaches. The ISA variant libraries are checked too: the avx2 one may use VEX but never EVEX.
And each variant must actually contain its own encoding, which shows the detector is not blind.

    check_cpu_isa.py --objdump objdump --baseline-level 2 --baseline libhyflow_core.so _C.so \
                     --variant avx2=libhyflow_cpu_avx2.so --variant avx512=libhyflow_cpu_avx512.so

Encodings are read from the bytes, not the mnemonics: in 64-bit mode an instruction whose first byte
(after segment/address-size prefixes) is C4/C5 is VEX, and one starting with 62 is EVEX.
"""
import argparse
import re
import subprocess
import sys

# Prefixes that may precede a VEX/EVEX prefix: segment overrides and address size.
SKIPPABLE_PREFIXES = {"26", "2e", "36", "3e", "64", "65", "67"}
# Legacy-encoded instructions above x86-64-v2 that older CPUs mis-execute or reject (LZCNT runs as BSR).
LEVEL3_LEGACY = {"lzcnt", "movbe"}
# The encoding each x86-64 level allows: up to v2 neither VEX nor EVEX, v3 VEX, v4 both.
ALLOWED = {1: set(), 2: set(), 3: {"vex"}, 4: {"vex", "evex"}}
VARIANT_LEVEL = {"avx2": 3, "avx512": 4}
LINE = re.compile(r"^\s*[0-9a-f]+:\t((?:[0-9a-f]{2} )+)\s*\t(\S+)")


def scan(objdump, path):
    """{encoding: (count, first example line)} for vex, evex and level-3 legacy instructions.
    -w keeps each instruction's bytes on one line."""
    out = subprocess.run([objdump, "-d", "-w", path],
                         check=True, capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        raw, mnemonic = m.group(1).split(), m.group(2)
        i = 0
        while i < len(raw) and raw[i] in SKIPPABLE_PREFIXES:
            i += 1
        first = raw[i] if i < len(raw) else ""
        kind = {"c4": "vex", "c5": "vex", "62": "evex"}.get(first)
        if kind is None and mnemonic in LEVEL3_LEGACY:
            kind = "legacy-v3"
        if kind:
            n, example = found.get(kind, (0, line.strip()))
            found[kind] = (n + 1, example)
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--objdump", default="objdump")
    ap.add_argument("--baseline-level", type=int, required=True, help="x86-64 level of the baseline (1-3)")
    ap.add_argument("--baseline", nargs="+", required=True, help="libraries compiled for the baseline")
    ap.add_argument("--variant", action="append", default=[], help="NAME=PATH of an ISA variant library")
    args = ap.parse_args()

    failures = []
    checks = [(p, args.baseline_level, None) for p in args.baseline]
    for spec in args.variant:
        name, _, path = spec.partition("=")
        checks.append((path, VARIANT_LEVEL[name], name))
    for path, level, variant in checks:
        found = scan(args.objdump, path)
        allowed = set(ALLOWED[level]) | ({"legacy-v3"} if level >= 3 else set())
        for kind, (n, example) in sorted(found.items()):
            if kind not in allowed:
                failures.append(f"{path}: {n} {kind} instruction(s) in code built for x86-64 level {level}, "
                                f"e.g. {example}")
        # Each variant must contain its own encoding: proof that the scan sees what it looks for.
        own = {"avx2": "vex", "avx512": "evex"}.get(variant)
        if own and own not in found:
            failures.append(f"{path}: no {own} instruction at all in the {variant} variant (scan broken?)")
        summary = ", ".join(f"{k}={n}" for k, (n, _) in sorted(found.items())) or "none above x86-64-v2"
        print(f"{path} (level {level}): {summary}")
    if failures:
        print("\n".join(["FAILED:"] + failures), file=sys.stderr)
        return 1
    print("cpu_isa_guard: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
