"""tinyenroll: on-device learning without backpropagation for MicroPython boards.

model    -- load the int8 embedding model and compute embeddings
kernels  -- the integer kernels (ulab / viper / plain backends)
"""
__version__ = "0.1.0"
