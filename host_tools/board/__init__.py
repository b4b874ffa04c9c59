"""Everything that runs on or talks to a board: profiles (host_tools/boards/*.json), board_io (mpremote
transport), flash, stream, virtual_board, mpy (the MicroPython interpreter and mpy-cross), and
the ulab stand-in (ulab_env, ulab_standin/). May import data (the recording format that record and stream write) and oracle.
"""
