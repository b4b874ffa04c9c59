"""The oracle: what a board must compute, in numpy int64 where nothing can round.

reference (embedding layers), knn_ref (enrollment decisions), anomaly_ref (anomaly scores) and
modelfile (the model file format). Imports nothing from the rest of host_tools and never the
firmware: boards are validated against it.
"""
