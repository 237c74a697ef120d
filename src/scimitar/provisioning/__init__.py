"""The provisioning engine: apps, mappings, scoping, cycles, logs."""
