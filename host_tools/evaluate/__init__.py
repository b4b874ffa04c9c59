"""Measurements and the demo: fewshot, anomaly_eval, selflabel_eval, validate (a board against
the oracle), bench (+ bench_mpy, run inside MicroPython) and demo (+ demo_gestures). The top
layer below cli: may import every other subpackage.
"""
