"""Code that runs inside the untrusted worker process, all in this one folder.

- :mod:`autograder.worker.main`: the worker program itself (runs notebook cells, answers calls);
- :mod:`autograder.worker.wire`: the plain-data wire format (also used by the trusted side);
- :mod:`autograder.worker.keras_ext`: Keras models and datasets as plain data, skipped training in cells.

The trusted plumbing that starts and contains the worker stays in :mod:`autograder.sandbox`
(``process.py``, ``isolation.py``); it hands these files to the worker by their paths.

The rule for every module here (checked by ``tests/test_worker_imports.py``): the worker runs as
``python -I -S`` and loads these modules from their file paths, so it cannot import the ``autograder``
package, and nothing else is guaranteed to be there. At module level a worker module imports only the
standard library and numpy. Anything else (Keras, TensorFlow, IPython) is imported lazily, inside the
function that needs it; Keras and TensorFlow only in :mod:`keras_ext`, and only once the student's code
has loaded them. Never import ``autograder`` (or a sibling by a relative import): siblings are loaded by
path and reach each other through what they are handed (e.g. the wire module's ``Extensions`` object).
This ``__init__`` imports nothing, so the trusted side pays nothing for importing the package.
"""
