"""The commands room: the `matderiv` command line and the benchmarks."""
