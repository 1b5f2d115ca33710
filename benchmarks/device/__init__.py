"""Plumbing for runs on a lent GPU machine: pack data and weights within what the device tool
carries (64 MiB), the scripts run there, and unpacking what comes back. Not a measurement."""
