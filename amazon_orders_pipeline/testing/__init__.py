"""Test support, imported by the tests and the benchmarks alike: the pipeline's environment against an emulator, the
emulator's control endpoints, the ground-truth comparison, in-process runs and the `dagster dev` harness.
Nothing in the pipeline imports it."""
