"""The audio path: microphone, replayed speech, and the streaming integer log-mel front end.

  tables        constant tables of the front end (generated on the host: sine, log2, mel weights)
  logmel        int16 audio, one hop at a time, to int8 log-mel frames (plain Python backend)
  logmel_viper  its viper backend (machine code on MicroPython)
  mic           an I2S MEMS microphone (INMP441 / SPH0645) through machine.I2S, into a ring buffer
  wav           a 16-bit mono WAV streamed from flash at its real rate (the virtual board's mic)
  kws           keyword spotting over the frames: enroll a word from spoken takes (energy
                endpointing), detect it in a sliding window (k-NN through the learner)
"""
