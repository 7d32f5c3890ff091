"""Test-session setup. OpenMP threads sleep instead of spinning when idle (set before torch loads):
on a shared 2-core machine spinning made small steps many times slower."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
