"""Keyword spotting on a stream of int8 log-mel frames (audio/logmel.py gives one per hop):
enroll a word from a few spoken takes, then detect it while the frames arrive.

    sp = Spotter(model, learner, frames=64)   # the model reads n_mels x frames int8 values
    w = sp.take(frame)      # enrolling: when a take has ended (energy endpointing), the window
                            # with it in the middle, else None; then learner.enroll("lantern", window=w)
    hit = sp.step(frame)    # listening: every `every` frames the last `frames` frames are embedded
                            # and classified; (label, score, margin) for a word, else None

The window is the model's input, channel-major as conv1d reads it: mel band c's `frames` values,
oldest first, at c*frames. The ring keeps each band's values in place, so a window is two slice
copies a band (memmove in C) and a new frame n_mels byte stores: no per-frame allocation but the
two memoryview slices a band.

Endpointing (take): a frame's level is the sum of its values; the noise floor drops to a lower
level at once and rises by 1/64 of the gap a frame; a frame is speech when its level is more than
`margin` above the floor (default 8 units a band, 3 dB). A take starts at the first of `min_on`
speech frames in a row and ends after `hang` frames without speech; a take longer than
frames - hang is dropped (sp.refused = "long"; no new take starts before the speech stops). The window is returned once the frames after the
take's middle fill its second half (centred), or at once for a take longer than frames - 2*hang
(then it ends `hang` frames after the take).

Listening (step): a hit is a label (not unknown) given by `confirm` classifications in a row
(default 1) and not by the one before them (a word fires once when it appears, not for every
window it stays in), with no hit in the last `refractory` frames (default `frames`);
sp.last keeps (label, score, nearest, margin) of the latest classification for selflabel.NearMiss.
"""
from ..ints import err


class Spotter:
    def __init__(self, model, learner, frames, n_mels=40, every=4, refractory=None, margin=None, min_on=4,
                 hang=8, confirm=1):
        if model is not None and model.in_dim != frames * n_mels:
            raise err("InputError", "model reads %d values, not %d x %d" % (model.in_dim, n_mels, frames))
        if frames < 2 * hang + min_on or every < 1:
            raise err("InputError", "frames too short for hang and min_on")
        if confirm < 1:
            raise err("InputError", "confirm must be at least 1")
        self.model = model
        self.learner = learner
        self.frames = frames
        self.n_mels = n_mels
        self.every = every
        self.refractory = frames if refractory is None else refractory
        self.margin = 8 * n_mels if margin is None else margin
        self.min_on = min_on
        self.hang = hang
        self.confirm = confirm
        self.ring = bytearray(frames * n_mels)
        # windows are built in the model's input buffer when it has one (model.Model): 2.5 KB less
        self.win = model.input() if hasattr(model, "input") else bytearray(frames * n_mels)
        self._r = memoryview(self.ring)
        self._w = memoryview(self.win)
        self.reset()

    def reset(self):
        """Forget the frames, the floor and any take or hit in progress."""
        self.n = 0            # frames seen
        self.floor = None
        self.on = 0           # speech frames in a row
        self.off = 0          # non-speech frames since the take's last speech frame
        self.start = -1       # first frame of the take in progress, or -1
        self.due = -1         # frame count at which the ended take's window is complete, or -1
        self.refused = None   # why the last take was dropped, else None: "long" ("loud" while a
                              # take too long still goes on)
        self.last_hit = -1 << 30
        self.held = None      # the label of the last classification (a word fires when it appears)
        self.run = 0          # classifications in a row that gave it
        self.last = None

    def push(self, frame):
        """Add one frame (n_mels int8 values); returns its level (the sum of its values)."""
        nm = self.n_mels
        if len(frame) != nm:
            raise err("InputError", "frame has %d values, expected %d" % (len(frame), nm))
        f = self.frames
        pos = self.n % f
        ring = self.ring
        level = 0
        for c in range(nm):
            v = frame[c]
            ring[c * f + pos] = v & 0xFF
            level += v - 256 if v > 127 else v
        self.n += 1
        return level

    def window(self):
        """The last `frames` frames, channel-major and oldest first (valid until the next call
        or, being the model's input buffer, the model's next embed)."""
        f = self.frames
        head = self.n % f  # the oldest frame's slot
        r = self._r
        w = self._w
        for c in range(self.n_mels):
            b = c * f
            w[b:b + f - head] = r[b + head:b + f]
            w[b + f - head:b + f] = r[b:b + head]
        return self.win

    def take(self, frame):
        """Enrolling: the window holding a whole spoken take in its middle once it is complete,
        else None (self.refused is "long" when a take was dropped)."""
        level = self.push(frame)
        n = self.n
        floor = self.floor
        if floor is None or level < floor:
            floor = level
        else:
            floor += (level - floor) // 64
        self.floor = floor
        speech = level > floor + self.margin
        if self.start < 0:
            if self.refused == "loud":  # the rest of a take refused while it went on: wait for quiet
                if speech:
                    return None
                self.refused = "long"
            self.on = self.on + 1 if speech else 0
            if self.on >= self.min_on:
                self.start = n - self.on
                self.off = 0
                self.refused = None
        elif speech:
            self.off = 0
        else:
            self.off += 1
            if self.off >= self.hang:
                end = n - self.off  # one past the take's last speech frame
                if end - self.start > self.frames - self.hang:
                    self.refused = "long"
                else:  # centred; a take too long for that ends the window now (still whole)
                    self.due = max((self.start + end) // 2 + self.frames // 2, n)
                self.start = -1
                self.on = 0
        if self.start >= 0 and n - self.start > self.frames:
            self.refused = "loud"  # reported as "long" once the speech stops
            self.start = -1
            self.on = 0
        if self.due >= 0 and n >= self.due:
            self.due = -1
            if n >= self.frames:
                return self.window()
        return None

    def step(self, frame):
        """Listening: (label, score, margin) when a word is detected at this frame, else None."""
        self.push(frame)
        n = self.n
        if n < self.frames or n % self.every:
            return None
        emb = self.model.embed(self.window())
        label, score, margin = self.learner.classify(embedding=emb)
        self.last = (label, score, self.learner.knn.nearest, margin)
        run = self.run + 1 if label == self.held else 1
        self.held = label
        self.run = run if run <= self.confirm else self.confirm + 1
        if label is None or run != self.confirm or n - self.last_hit <= self.refractory:
            return None
        self.last_hit = n
        return label, score, margin
