"""Data in and out: labelled datasets (datasets, aeon), recordings made on boards (recording)
and the hash-checked download cache (cache). May import oracle only.
"""
