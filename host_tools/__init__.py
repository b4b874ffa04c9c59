"""Host-side tools for tinyenroll, one subpackage per role; `cli.py` is the `tinyenroll` command.

    oracle/    the numpy reference of the board's integer arithmetic and the model file format
    data/      datasets, recordings and the download cache
    learn/     training and quantisation of embedding models
    board/     talking to boards: profiles, mpremote I/O, flash, stream, the virtual board,
               the MicroPython interpreter and the ulab stand-in
    evaluate/  measurements and the demo: few-shot, anomaly, self-labels, validate, bench
    models/    shipped model files (data, no code)

Imports point one way: cli -> evaluate -> learn -> data -> oracle, and board beside learn (it
may use data, for the recording format, and oracle). tests/test_layout.py checks it.
"""
