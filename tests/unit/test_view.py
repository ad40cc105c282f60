"""Views and ShapeTrackers against numpy: any sequence of movement ops must index the same elements."""

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_core.view import ShapeTracker, View, merge_views


def gather(tracker: ShapeTracker, buffer: np.ndarray) -> np.ndarray:
    """Element by element, the way a kernel reads: walk the views from the outermost in, 0 outside masks."""
    out = np.zeros(tracker.shape, buffer.dtype)
    for idx in itertools.product(*(range(s) for s in tracker.shape)):
        coords, valid = idx, True
        for depth, view in enumerate(reversed(tracker.views)):
            if view.mask is not None and not all(lo <= i < hi for i, (lo, hi) in zip(coords, view.mask)):
                valid = False
                break
            position = view.offset + sum(i * s for i, s in zip(coords, view.strides))
            if depth + 1 < len(tracker.views):
                coords = np.unravel_index(position, tracker.views[-depth - 2].shape)
        if valid:
            out[idx] = buffer[position]
    return out


@st.composite
def movement_sequences(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    buffer = np.arange(1, int(np.prod(shape)) + 1)
    tracker, reference = ShapeTracker.from_shape(shape), buffer.reshape(shape)
    for _ in range(draw(st.integers(1, 6))):
        current = tracker.shape
        ops = ["reshape", "permute", "expand", "pad", "shrink", "flip"] if current else ["reshape"]
        op = draw(st.sampled_from(ops))
        if op == "reshape":
            size = int(np.prod(current))
            first = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
            shapes = [(size,), (first, size // first), (1, first, size // first)]
            new = draw(st.sampled_from([*shapes, ()] if size == 1 else shapes))  # a 0-d view too
            tracker, reference = tracker.reshape(new), reference.reshape(new)
        elif op == "permute":
            order = draw(st.permutations(range(len(current))))
            tracker, reference = tracker.permute(tuple(order)), reference.transpose(order)
        elif op == "expand":
            new = tuple(draw(st.integers(1, 3)) if s == 1 else s for s in current)
            tracker, reference = tracker.expand(new), np.broadcast_to(reference, new)
        elif op == "pad":
            padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in current)
            tracker, reference = tracker.pad(padding), np.pad(reference, padding)
        elif op == "shrink":
            bounds = []
            for s in current:
                lo = draw(st.integers(0, s - 1))
                bounds.append((lo, draw(st.integers(lo + 1, s))))
            tracker, reference = tracker.shrink(tuple(bounds)), reference[tuple(slice(lo, hi) for lo, hi in bounds)]
        else:
            axes = tuple(i for i in range(len(current)) if draw(st.booleans()))
            tracker, reference = tracker.flip(axes), np.flip(reference, axes)
    return buffer, tracker, reference


@settings(max_examples=300, deadline=None)
@given(movement_sequences())
def test_movement_sequences_match_numpy(case):
    buffer, tracker, reference = case
    np.testing.assert_array_equal(gather(tracker, buffer), reference)


def test_reshape_of_permute_needs_two_views_and_stays_exact():
    tracker = ShapeTracker.from_shape((2, 3)).permute((1, 0)).reshape((6,))
    assert len(tracker.views) == 2
    np.testing.assert_array_equal(gather(tracker, np.arange(6)), np.arange(6).reshape(2, 3).T.reshape(6))


def test_sliding_windows_merge_into_one_view():
    # x[o + k] for a length-6 x and 3-wide windows: built from expand/reshape/shrink, one overlapping View
    tracker = ShapeTracker.from_shape((6,)).reshape((1, 6)).expand((4, 6)).reshape((24,)).shrink(((0, 21),))
    tracker = tracker.reshape((3, 7)).shrink(((0, 3), (0, 4)))
    assert len(tracker.views) == 1
    assert tracker.views[0].strides == (1, 1)
    expected = np.array([[k + o for o in range(4)] for k in range(3)])
    np.testing.assert_array_equal(gather(tracker, np.arange(6)), expected)


def test_merge_refuses_carries():
    inner = View.create((2, 3), (1, 2))  # a transposed (3, 2) buffer
    assert merge_views(inner, View.create((6,))) is None


def test_padding_is_a_mask_not_a_copy():
    view = View.create((3,)).pad(((2, 1),))
    assert view.shape == (6,)
    assert view.mask == ((2, 5),)
    assert view.offset == -2


def test_a_0d_view_of_padding_stays_padding():
    """Shrinking into the padding and dropping the last dim: the one element must still read as padding."""
    tracker = ShapeTracker.from_shape((1,)).pad(((1, 0),)).shrink(((0, 1),)).reshape(())
    assert gather(tracker, np.array([7])).item() == 0
