"""What the benchmark commands share: backends, the machine line, timing loops, a synthetic
model, the install footprint, and the child processes commands spawn (coldstart, int8_worker,
naive_server). Nothing here is a command of its own."""
