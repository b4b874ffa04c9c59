"""The text te.help() prints (a module of its own: loaded only when asked for)."""

TEXT = """tinyenroll.app - learn from the sensor at the REPL (import tinyenroll.app as te)
  te.enroll(label, n=3)   record n takes after a countdown and learn them as `label`
  te.classify()           record one window and answer with a label or 'unknown'
  te.live(seconds=0)      answer continuously (0: until Ctrl-C)
  te.learn_normal(sec)    learn what normal looks like; te.watch() flags what is not
  te.status() te.labels() te.forget(label) te.undo() te.freeze() te.unfreeze() te.reset()
  te.capture()            one raw window (array 'h', channel-interleaved) from the sensor
Settings: /board.json ('app' and 'model' sections). Ctrl-C stops any of them."""
