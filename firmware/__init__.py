"""tinyenroll: on-device learning without backpropagation for MicroPython boards.

Modules, each with one job (imports point down this list's layers: errors <- ints <- kernels* <- the rest):
  errors         the one error vocabulary (TinyError: InputError, ModelError, StoreError, Refused, Frozen, ...)
  ints           isqrt, int8 sign extension, the int8 input check, the bounded top-k step
  kernels        the integer arithmetic (dense, conv1d, pools, l2norm, sqdist, class_topk), backend selection
  kernels_ulab   the ulab backend (boards with ulab built in)
  kernels_ulab_conv  its conv1d and pools (loaded at their first use)
  kernels_viper  the viper backend (machine code on MicroPython)
  kernels_viper_conv  its conv1d and pools (loaded at their first use)
  kernels_plain  the plain-Python backend, the reference rule as loops (runs anywhere)
  model          load and check a model file (CRC, shapes, overflow bounds), compute embeddings
  frontend       a raw int16 sensor window -> the model's int8 input (resample, z-normalise)
  enroll         k-NN / prototype classes over int8 embeddings, calibrated "unknown" threshold
  store          power-loss-safe generations of learned state
  audit          bounded audit log on flash
  learner        enrollment + store + guard rails (freeze, block-list, caps, undo, reset)
  rails          the learner's start-up load (dropped after use) and rare calls (undo, reset, protect, ...)
  gate           the behaviour gate: canaries every change must keep, caps on automatic learning
  features       raw feature vectors from sample windows, for the detector without a model
  anomaly        learn "normal", score windows, calibrated threshold (the detector)
  anomaly_io     the detector's state on flash and its drift canaries (imported when used)
  selflabel      labels without a person: temporal consistency, near-miss-then-detection
  stream         sensor windows to the host as numbered, CRC-checked frames
  app            the maker's REPL: enroll, classify, live, learn_normal, watch, undo, help
  apphelp        the text app.help() prints (loaded only then)
  standalone     run on boot (/main.py): live classification or anomaly watch, button, LED
  sensors/       the sensor interface: MPU-6050 (or a simulated chip), recording replay, button/LED pins
  audio/         I2S microphone, WAV replay, the streaming integer log-mel front end, keyword spotting
  jobs/          the board's half of the host tools' commands (validate, demo, bench, anomaly-eval)
"""
__version__ = "0.1.0"
