"""Red-team findings of issue 22, as tests (pure: no worker, no Keras)."""

from __future__ import annotations

from tests.unit.test_keras_causes import _as_lecture, _cause, _failures, _info


def test_a_network_unlike_the_lectures_is_not_one_capped_cause() -> None:
    """A network that is not the lecture's at all (an empty one, or Flatten -> Dense) is not "one slip": were its
    types, shapes and parameter tests to share the types sentence as their diagnosed cause, the grader would cap
    them at half of the question, and a student would earn half of build_mnist_cnn's structure for no CNN."""
    empty = _info([])
    assert {_cause(m) for m in _failures(empty).values()} == {""}, _failures(empty)
    dense_only = _info([("Flatten", (None, 784), 0, {}),
                        ("Dense", (None, 10), 7850, {"units": 10, "activation": "softmax"})])
    assert {_cause(m) for m in _failures(dense_only).values()} == {""}, _failures(dense_only)
    # one layer missing, extra or of another type is still one cause
    one_extra = _info(_as_lecture(at5=(), at6=("Dense", (None, 3, 3, 64), 4160, {"units": 64, "activation": "relu"}),
                                  at7=("Dense", (None, 3, 3, 10), 650, {"units": 10, "activation": "softmax"})))
    assert len({_cause(m) for m in _failures(one_extra).values()} - {""}) == 1
