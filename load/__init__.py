"""The load test (locust) and its floor; run with `make load` (docs/BENCHMARKS.md)."""
