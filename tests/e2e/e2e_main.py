"""Shared entry point of the e2e test files: root and binary checks, then unittest."""
import os
import sys
import unittest


def run(name, binary, why_root):
    """Runs the calling module's tests. Exit 77 (meson: skipped) without root, 1 when the
    binary under test is not built or any test fails."""
    if os.geteuid() != 0:
        print(f"{name}: needs root ({why_root}); skipping", file=sys.stderr)
        sys.exit(77)
    if not os.access(binary, os.X_OK):
        print(f"{name}: {binary} not built", file=sys.stderr)
        sys.exit(1)
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)
