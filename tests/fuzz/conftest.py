"""The fuzz tests' summary line: how many cases ran, returned and raised a clean error."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter):
    import fuzz_inputs

    stats = fuzz_inputs.STATS
    if stats:
        total = sum(stats.values())
        parts = ", ".join(f"{n} {kind}" for kind, n in sorted(stats.items()))
        terminalreporter.write_line(f"fuzz: {total} cases ({parts})")
