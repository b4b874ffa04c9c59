"""Host-side tools for tinyenroll: reference arithmetic, training, board I/O, benchmarks."""
