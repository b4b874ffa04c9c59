"""Learning on the host: train an embedding model (train) and quantise it to the board's int8
rule (quantize). May import data and oracle.
"""
