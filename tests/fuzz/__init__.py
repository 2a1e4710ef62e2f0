"""A descriptor-driven fuzzer for every unary method of the three Skylane servers.

Methods are discovered from the generated descriptors (skylane/*/v1/*_pb2.py) and matched to the
servers that answer health for their service; each call starts from a plausible request and applies
one mutation (boundary numbers, out-of-range timestamps, huge or control-character strings, unknown
enum numbers, 10,000-entry repeated fields and maps, invalid UTF-8, garbage and truncated bodies).
A call fails when it ends INTERNAL or UNKNOWN or is slow; a server fails when it stops answering health.

    python -m tests.fuzz --calls 100000 --engine sqlite --seed 1

The seeded short run lives in tests/common/test_fuzz.py.
"""
