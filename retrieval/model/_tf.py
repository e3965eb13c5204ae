"""The one place that imports TensorFlow/Keras, quietly.

TensorFlow 2.21 prints oneDNN and CUDA notices through absl before its log
level is read, so ``TF_CPP_MIN_LOG_LEVEL`` alone does not silence them. The
C-level stderr is captured during the import and the first device probe, and
replayed only if the import fails.
"""

import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _quiet_import():
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import keras
            import tensorflow as tf

            tf.config.list_physical_devices()  # triggers the CUDA probe while muted
            tf.get_logger().setLevel("ERROR")  # e.g. retracing notes when many models are built
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return keras, tf


keras, tf = _quiet_import()
