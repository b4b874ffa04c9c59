"""Stand-in for the ulab firmware module (see numpy.py here): host simulation only."""
__version__ = "6.12.0-standin"
