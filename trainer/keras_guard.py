"""One Keras model built at a time, and never while Keras' global state is cleared.

The app's page runner (Streamlit) calls keras.backend.clear_session after every page run, from its
own thread. Keras keeps its model-building state in one thread-local object that clear_session
replaces for every thread at once, so a model being built by a background job at that moment lost
its layers: "set_weights(weights) on layer 'p_net' with a weight list of length 13, but the layer
was expecting 11 weights" on the first monitor cycle after training. While building() is held,
clear_session waits.
"""

from __future__ import annotations

import threading

_BUILDING = threading.RLock()


def building() -> threading.RLock:
    """Hold while a Keras model is built or loaded: `with building(): ...`."""
    _make_clear_session_wait()
    return _BUILDING


def _make_clear_session_wait() -> None:
    import keras

    clear = keras.backend.clear_session
    if getattr(clear, "waits_for_building", False):
        return

    def clear_session(*args, **kwargs):
        with _BUILDING:
            return clear(*args, **kwargs)

    clear_session.waits_for_building = True
    keras.backend.clear_session = clear_session
