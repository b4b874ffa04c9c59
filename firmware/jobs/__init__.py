"""The board's half of the host tools' jobs, one module per host command.

    jobs.validate      open_model(path); embed(hex); scratch(prefix, ...); enroll(label, hex);
                       classify(hex); scratch_end(prefix)
    jobs.demo          gestures(k, speed, longest, length); gesture(n, label);
                       replay_anomaly(path, speed, size, hop, windows, learn)
    jobs.bench         fit(model_path, backend, store_prefix); store(backend, n)
    jobs.anomaly_eval  detector_file(path)
    jobs.voice         run(model_path, takes_wav, stream_wav, frames, mels, offset, speed)

Each host command drives its module with one short line over the REPL (or a one-line script
in the unix port) and parses the lines it prints. Nothing else in the package imports these,
and each imports only what it uses: a board that never runs a host job never pays for them.
"""


def wipe(prefix):
    """Remove a store's files (all generations and the audit log)."""
    import os
    for s in (".cur", ".prev", ".tmp", ".log", ".log.1"):
        try:
            os.remove(prefix + s)
        except OSError:
            pass


def hexlify(b):
    import binascii
    return binascii.hexlify(bytes(b)).decode()
