"""`python -m benchmarks [--quick]` runs every benchmark and writes benchmarks/results.json."""

from benchmarks.run import main

if __name__ == "__main__":
    raise SystemExit(main())
