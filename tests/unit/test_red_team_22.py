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


def _conv(shape: tuple[int | None, ...], params: int, filters: int) -> tuple[str, tuple[int | None, ...], int,
                                                                              dict[str, object]]:
    return ("Conv2D", shape, params, {"filters": filters, "kernel_size": (3, 3), "activation": "relu"})


def test_two_layers_of_one_kind_left_out_are_one_cause_two_kinds_are_not() -> None:
    """The lecture's two MaxPooling2D layers forgotten is one idea left out (one capped cause); a pooling and the
    Flatten left out are two mistakes (each test costs its own share)."""
    head = [("Dense", (None, 64), 1982528, {"units": 64, "activation": "relu"}),
            ("Dense", (None, 10), 650, {"units": 10, "activation": "softmax"})]
    no_pooling = _info([_conv((None, 26, 26, 32), 320, 32), _conv((None, 24, 24, 64), 18496, 64),
                        _conv((None, 22, 22, 64), 36928, 64), ("Flatten", (None, 30976), 0, {}), *head])
    causes = {_cause(m) for m in _failures(no_pooling).values()}
    assert len(causes) == 1 and "missing MaxPooling2D" in causes.pop(), _failures(no_pooling)
    two_kinds = _info([_conv((None, 26, 26, 32), 320, 32), _conv((None, 24, 24, 64), 18496, 64),
                       ("MaxPooling2D", (None, 12, 12, 64), 0, {"pool_size": (2, 2)}),
                       _conv((None, 10, 10, 64), 36928, 64),
                       ("Dense", (None, 10, 10, 64), 4160, {"units": 64, "activation": "relu"}),
                       ("Dense", (None, 10, 10, 10), 650, {"units": 10, "activation": "softmax"})])
    assert {_cause(m) for m in _failures(two_kinds).values()} == {""}, _failures(two_kinds)
