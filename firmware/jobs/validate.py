"""Board half of `tinyenroll validate`: embeddings and enroll/classify decisions on request."""
import binascii

from . import hexlify, wipe

_m = None   # the model under validation
_L = None   # a learner over a scratch store


def open_model(path):
    """Load the model every later call uses; returns the kernel backend's name."""
    global _m
    from .. import kernels, model
    _m = model.load(path)
    kernels.ready()
    return kernels.name


def embed(h):
    """Print the embedding of one hex-encoded int8 window, as hex."""
    print(hexlify(_m.embed(binascii.unhexlify(h))))


def scratch(prefix, k, capacity, max_classes, max_per_class):
    """A learner over a wiped store at prefix, for enroll()/classify()."""
    global _L
    from .. import learner
    wipe(prefix)
    _L = learner.Learner(_m, prefix, k=k, capacity=capacity, max_classes=max_classes,
                         max_per_class=max_per_class)


def enroll(label, h):
    _L.enroll(label, window=binascii.unhexlify(h))


def classify(h):
    """Print [label, score, margin] of one hex-encoded window as JSON."""
    import json
    print(json.dumps(list(_L.classify(window=binascii.unhexlify(h)))))


def scratch_end(prefix):
    global _L
    _L = None
    wipe(prefix)
