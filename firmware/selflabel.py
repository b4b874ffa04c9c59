"""Labels without a person: temporal consistency and near-miss-then-detection.

ConsistencyFilter -- a stream of classifications (labels; None = unknown) in, the same stream
out with short flips removed. A run of at most `max_flip` windows whose label differs from
the runs on both sides, when those two runs have the same label and are each at least
`hysteresis` windows long, takes that label; the run after a flip (its right flank) is not
itself taken as a flip, so "b a b a" never becomes "b b a a". Runs of "unknown" (None) are
never flanks unless unknown_flanks=True: a lone detection between unknowns is kept, while a
lone unknown inside a run of one label takes that label. Nothing else changes. With auto=AutoEnroll(...)
(opt-in) each corrected window is also offered for enrollment under its corrected label. Decisions need the next
`hysteresis` windows, so output lags input by at most max_flip + hysteresis windows; flush()
releases the rest unchanged at the end of a stream. Memory: a ring of max_flip + hysteresis + 1
labels (and int8 vectors of `dim` bytes when given, so corrected windows can be enrolled).

NearMiss -- a window answered "unknown" whose nearest label scored within near_num/near_den of
the threshold (scores are distances: lower is closer) is held. If a confident detection of the
same label (score <= threshold * conf_num // conf_den) follows within `within` time units,
the held window is offered as a positive of that label; a held window expires after `within`
and is offered once.

AutoEnroll -- the guards of every automatic enrollment (near misses, and the filter's
corrections when the user opts in with ConsistencyFilter(auto=...)): never while frozen, never
a blocked label. With a learner.Learner it enrolls through Learner.auto_enroll, whose caps (per
hour, share of a class, prototype drift; kept on flash) and behaviour gate apply, and which
writes a new store generation and an audit line ("why=auto ..."); refusals are counted by
reason ("frozen", "blocked", "cap", "gate", ...). Without a learner, at most `per_hour` offers
in any 3600 s are accepted (counted only, for host evaluation).
"""
from .errors import InputError, Refused
from . import kernels


class ConsistencyFilter:
    def __init__(self, max_flip=1, hysteresis=2, dim=0, auto=None, unknown_flanks=False):
        if not isinstance(max_flip, int) or max_flip < 1 or max_flip > 16:
            raise InputError("max_flip must be an int in 1..16, got %r" % (max_flip,))
        if not isinstance(hysteresis, int) or hysteresis < 1 or hysteresis > 16:
            raise InputError("hysteresis must be an int in 1..16, got %r" % (hysteresis,))
        if not isinstance(dim, int) or dim < 0 or dim > kernels.MAX_DIST_DIM:
            raise InputError("dim must be an int in 0..%d, got %r" % (kernels.MAX_DIST_DIM, dim))
        self.max_flip = max_flip
        self.hysteresis = hysteresis
        self.dim = dim
        if auto is not None and dim == 0:
            raise InputError("enrolling corrections (auto) needs the vectors: give dim")
        self.auto = auto                 # opt-in: enroll corrected windows through these guards
        self.unknown_flanks = unknown_flanks
        self._t = 0
        size = max_flip + hysteresis + 1
        self._size = size
        self._orig = [None] * size       # labels as classified
        self._out = [None] * size        # labels decided (valid for the first _ready pending)
        self._vecs = bytearray(size * dim)
        self.reset()

    def reset(self):
        """Start a new stream (pending windows are dropped)."""
        self._head = 0          # ring index of the oldest pending window
        self._n = 0             # pending windows
        self._ready = 0         # of them, decided and waiting for pop()
        self._left = None       # label of the run just before the undecided part
        self._left_len = 0      # its length so far, capped at hysteresis
        self._has_left = False
        self.changed = 0        # windows whose label this filter changed, since reset

    def _at(self, i):
        return (self._head + i) % self._size

    def push(self, label, vec=None, t=0):
        """Add the next classification (vec: its int8 vector when dim > 0; t: time in seconds,
        used by the auto-enrollment cap); returns how many windows can now be pop()ed."""
        if self._n >= self._size:
            raise InputError("pop() the decided windows before pushing more")
        d = self.dim
        if d:
            if vec is None or len(vec) != d:
                raise InputError("vector of %d int8 values needed, got %r" % (d, None if vec is None else len(vec)))
        self._t = t
        i = self._at(self._n)
        self._orig[i] = label
        self._out[i] = label
        if d:
            self._vecs[i * d:(i + 1) * d] = vec
        self._n += 1
        self._decide(False)
        return self._ready

    def flush(self):
        """End of stream: every pending window is decided (unchanged); returns how many."""
        self._decide(True)
        return self._ready

    def pop(self):
        """(label, label as classified, int8 vector or None) of the oldest decided window.
        The vector is a view valid until the next push()."""
        if self._ready == 0:
            raise InputError("no decided window to pop")
        i = self._head
        out = (self._out[i], self._orig[i],
               memoryview(self._vecs)[i * self.dim:(i + 1) * self.dim] if self.dim else None)
        self._head = (i + 1) % self._size
        self._n -= 1
        self._ready -= 1
        return out

    def _emit(self, label, as_is):
        # the first undecided window is decided (as_is: unchanged), extending the left run
        i = self._at(self._ready)
        if not as_is:
            self._out[i] = label
            self.changed += 1
            if self.auto is not None:
                d = self.dim
                self.auto.offer(self._t, label, memoryview(self._vecs)[i * d:(i + 1) * d],
                                "auto consistency: %s inside a run of %s" % (self._orig[i], label))
        self._ready += 1

    def _decide(self, final):
        h = self.hysteresis
        while self._ready < self._n:
            b = self._orig[self._at(self._ready)]
            if self._has_left and b == self._left:
                self._emit(None, True)
                if self._left_len < h:
                    self._left_len += 1
                continue
            # a run of label b starts here: measure it (up to max_flip + 1)
            undecided = self._n - self._ready
            r = 1
            while r < undecided and r <= self.max_flip and self._orig[self._at(self._ready + r)] == b:
                r += 1
            candidate = self._has_left and self._left_len >= h and r <= self.max_flip and \
                (self._left is not None or self.unknown_flanks)
            if candidate and r == undecided and not final:
                return                      # the run may still grow past max_flip: wait
            if candidate:
                # the next h windows after the run must all carry the left label
                seen = 0
                ok = True
                while seen < h and r + seen < undecided:
                    if self._orig[self._at(self._ready + r + seen)] != self._left:
                        ok = False
                        break
                    seen += 1
                if ok and seen < h:
                    if not final:
                        return              # not enough windows yet
                    ok = False
                if ok:
                    for _ in range(r):
                        self._emit(self._left, False)
                    self._left_len = 0      # the run after the flip is a new run of the left label
                    continue
            self._emit(None, True)
            self._left = b
            self._left_len = 1
            self._has_left = True


class AutoEnroll:
    """The guards every automatic enrollment passes: not frozen, label not blocked; then
    learner.auto_enroll (its caps and gate, an audit line). Without a learner: at most per_hour
    in any 3600 s, accepted offers only counted (for host evaluation)."""

    def __init__(self, learner=None, per_hour=10):
        if not isinstance(per_hour, int) or per_hour < 0 or per_hour > 1000:
            raise InputError("per_hour must be an int in 0..1000, got %r" % (per_hour,))
        self.learner = learner
        self.per_hour = per_hour
        self.frozen = False
        self.blocked = []
        self._times = [0] * per_hour     # ring of the last per_hour enrollment times
        self._n = 0
        self._head = 0
        self.accepted = 0
        self.refused = {}                # reason -> count

    def _refuse(self, why):
        self.refused[why] = self.refused.get(why, 0) + 1
        return False

    def offer(self, t, label, vec, why):
        """Enroll vec as label at time t if every guard allows; True when it was enrolled."""
        L = self.learner
        if self.frozen or (L is not None and L.frozen):
            return self._refuse("frozen")
        if label is None:
            return self._refuse("unknown")
        if label in self.blocked or (L is not None and label in L.blocked):
            return self._refuse("blocked")
        if L is None and (self.per_hour == 0 or (self._n == self.per_hour and t - self._times[self._head] < 3600)):
            return self._refuse("cap")
        if L is not None:
            # the learner applies its own caps (per hour, share, drift, kept on flash) and gate
            try:
                L.auto_enroll(label, vec, t, why)
            except Refused as e:
                msg = str(e)
                return self._refuse("gate" if "behaviour gate" in msg else "cap" if "cap:" in msg
                                    else type(e).__name__)
            except InputError as e:
                return self._refuse(type(e).__name__)
            self.accepted += 1
            return True
        if self._n < self.per_hour:
            self._times[(self._head + self._n) % self.per_hour] = t
            self._n += 1
        else:
            self._times[self._head] = t
            self._head = (self._head + 1) % self.per_hour
        self.accepted += 1
        return True


class NearMiss:
    def __init__(self, dim, within=4, near=(3, 2), confident=(1, 1), auto=None):
        if not isinstance(dim, int) or dim < 1 or dim > kernels.MAX_DIST_DIM:
            raise InputError("dim must be an int in 1..%d, got %r" % (kernels.MAX_DIST_DIM, dim))
        if within < 1:
            raise InputError("within must be at least 1 time unit")
        if near[0] <= near[1] or near[1] < 1 or near[0] > 64 * near[1]:
            raise InputError("near must be (num, den) with den < num <= 64 * den")
        if confident[0] < 1 or confident[1] < 1 or confident[0] > confident[1]:
            raise InputError("confident must be (num, den) with 1 <= num <= den")
        self.dim = dim
        self.within = within
        self.near = near
        self.confident = confident
        self.auto = auto if auto is not None else AutoEnroll()
        self._vec = bytearray(dim)
        self.reset()

    def reset(self):
        """Drop the held near miss and the counts."""
        self._held = None                # label of the held near miss, or None
        self._held_t = 0
        self._held_score = 0
        self.offers = 0

    def observe(self, t, label, score, nearest, threshold, vec):
        """One classified window at time t (seconds, non-decreasing): label (None = unknown), its
        best score, the nearest label, the threshold in force and the window's int8 vector.
        Returns (label, vector, score) of the near miss offered now and accepted by the guards
        (enrolled, with a learner), else None. The vector is a buffer reused by later calls."""
        if len(vec) != self.dim:
            raise InputError("vector has %d values, expected %d" % (len(vec), self.dim))
        if self._held is not None and t - self._held_t > self.within:
            self._held = None
        if label is None:
            if nearest is not None and score is not None and score > threshold and \
                    score * self.near[1] <= threshold * self.near[0]:
                # hold the latest near miss (a newer one replaces an older)
                self._held = nearest
                self._held_t = t
                self._held_score = score
                self._vec[:] = vec
            return None
        if self._held is None or label != self._held:
            return None
        if score * self.confident[1] > threshold * self.confident[0]:
            return None                      # a detection, but not a confident one
        held = self._held
        self._held = None
        self.offers += 1
        why = "auto near-miss score=%d then detection score=%d threshold=%d" % (self._held_score, score, threshold)
        if not self.auto.offer(t, held, self._vec, why):
            return None
        return held, self._vec, self._held_score
