"""nn.state: state dicts by attribute path, load_state_dict's errors, safetensors files both ways with the package."""

import json
import struct

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch

from tinygrad_core import Device, Tensor, dtypes
from tinygrad_core.nn import BatchNorm, Linear, Sequential
from tinygrad_core.nn.state import (
    SafetensorsError,
    StateDictError,
    get_parameters,
    get_state_dict,
    load_state_dict,
    safe_load,
    safe_metadata,
    safe_save,
)


class Net:
    def __init__(self):
        self.l1 = Linear(3, 4)
        self.blocks = [Linear(4, 4), {"head": Linear(4, 2, bias=False)}]
        self.bn = BatchNorm(4)
        self.act = Tensor.relu


# --- state dicts ---
def test_get_state_dict_keys(default_device):
    net = Net()
    assert list(get_state_dict(net)) == [
        "l1.weight",
        "l1.bias",
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.1.head.weight",
        "bn.weight",
        "bn.bias",
        "bn.running_mean",
        "bn.running_var",
        "bn.num_batches_tracked",
    ]
    assert list(get_state_dict(Sequential(Linear(2, 2), Tensor.relu, Linear(2, 1)))) == [
        "0.weight",
        "0.bias",
        "2.weight",
        "2.bias",
    ]
    assert list(get_state_dict(net.l1, prefix="enc.")) == ["enc.weight", "enc.bias"]


def test_get_parameters_dedups_and_survives_cycles(default_device):
    shared = Linear(2, 2)
    model = Sequential(shared, shared)
    model.parent = model  # a cycle must not recurse forever
    assert len(get_state_dict(model)) == 4
    params = get_parameters(model)
    assert len(params) == 2
    assert params[0] is shared.weight


def test_state_dict_round_trip(default_device, tmp_path):
    a, b = Net(), Net()
    path = tmp_path / "net.safetensors"
    safe_save(get_state_dict(a), path)
    loaded = load_state_dict(b, safe_load(path))
    assert len(loaded) == 10
    for key, value in get_state_dict(a).items():
        np.testing.assert_array_equal(get_state_dict(b)[key].numpy(), value.numpy(), err_msg=key)


def test_load_state_dict_copies(default_device):
    model = Linear(2, 1)
    source = {"weight": Tensor([[1.0, 2.0]]), "bias": Tensor([3.0])}
    load_state_dict(model, source)
    model.weight.assign(model.weight * 10).realize()
    assert source["weight"].tolist() == [[1.0, 2.0]]
    assert model.weight.tolist() == [[10.0, 20.0]]
    assert model(Tensor([[1.0, 1.0]])).tolist() == [[33.0]]


def test_load_state_dict_into_lazy_tensors(default_device):
    class Holder:
        def __init__(self):
            self.w = Tensor.zeros(2) + 1  # unrealized

    holder = Holder()
    load_state_dict(holder, {"w": Tensor([5.0, 6.0])})
    assert holder.w.tolist() == [5.0, 6.0]


def test_load_state_dict_lists_every_problem(default_device):
    model = Net()
    state = get_state_dict(Net())
    del state["l1.bias"]
    state["extra"] = Tensor([1.0])
    state["l1.weight"] = Tensor.zeros(5, 3)
    state["bn.running_mean"] = Tensor.zeros(4, dtype=dtypes.int32)
    with pytest.raises(StateDictError) as info:
        load_state_dict(model, state)
    message = str(info.value)
    assert "4 problem" in message
    for fragment in (
        "missing keys",
        "l1.bias",
        "unexpected keys",
        "extra",
        "Shape mismatch in layer `l1.weight`: Expected shape (4, 3), but found (5, 3)",
        "bn.running_mean: dtype",
    ):
        assert fragment in message


def test_load_state_dict_not_strict(default_device):
    model = Linear(2, 1)
    load_state_dict(model, {"weight": Tensor([[1.0, 2.0]]), "other": Tensor([0.0])}, strict=False)
    assert model.weight.tolist() == [[1.0, 2.0]]
    with pytest.raises(StateDictError, match="shape"):
        load_state_dict(model, {"weight": Tensor([1.0, 2.0])}, strict=False)


def test_load_state_dict_consume(default_device):
    state = {"weight": Tensor([[1.0, 2.0]]), "bias": Tensor([0.5])}
    load_state_dict(Linear(2, 1), state, consume=True)
    assert state == {}


def test_torch_state_dict_loads(default_device):
    torch.manual_seed(0)
    reference = torch.nn.Linear(3, 2)
    model = Linear(3, 2)
    load_state_dict(model, {k: Tensor(v.detach().numpy()) for k, v in reference.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    np.testing.assert_allclose(
        model(Tensor(x)).numpy(), reference(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6
    )


# --- safetensors, both ways ---
ARRAYS = {
    "f32": np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32),
    "f64": np.array([1e300, -0.0, np.inf], np.float64),
    "f16": np.array([[1.5, -65504.0], [np.nan, 6e-8]], np.float16),
    "i8": np.array([-128, 127], np.int8),
    "i16": np.array([-32768, 7], np.int16),
    "i32": np.arange(-3, 3, dtype=np.int32).reshape(2, 3),
    "i64": np.array([-(2**63), 2**63 - 1], np.int64),
    "u8": np.array([0, 255], np.uint8),
    "u16": np.array([65535], np.uint16),
    "u32": np.array([2**32 - 1], np.uint32),
    "u64": np.array([2**64 - 1], np.uint64),
    "bool": np.array([[True, False, True]]),
    "scalar": np.array(2.5, np.float32),
    "empty": np.zeros((0, 3), np.float32),
}


def _bits(array):
    flat = array.reshape(-1)
    return flat.view(np.uint8) if array.dtype != np.bool_ else flat.astype(np.uint8)


def test_theirs_to_ours(device, tmp_path):
    path = tmp_path / "theirs.safetensors"
    safetensors.numpy.save_file(ARRAYS, str(path), metadata={"format": "np"})
    ours = safe_load(path, device=device)
    assert set(ours) == set(ARRAYS)
    for name, array in ARRAYS.items():
        tensor, dtype = ours[name], dtypes.from_np(array.dtype)
        if dtype == dtypes.float16 and dtype not in Device[device].dtypes:
            # no float16 here: float32 holds every float16 value exactly
            assert tensor.dtype == dtypes.float32
            np.testing.assert_array_equal(tensor.numpy(), array.astype(np.float32))
            continue
        assert (tensor.shape, tensor.dtype, tensor.device) == (array.shape, dtype, device), name
        np.testing.assert_array_equal(_bits(tensor.numpy()), _bits(array), err_msg=name)
    assert safe_metadata(path) == {"format": "np"}


def test_ours_to_theirs(device, tmp_path):
    path = tmp_path / "ours.safetensors"
    arrays = {name: array for name, array in ARRAYS.items() if dtypes.from_np(array.dtype) in Device[device].dtypes}
    safe_save(
        {name: Tensor(array, device=device).reshape(array.shape) for name, array in arrays.items()},
        path,
        metadata={"epoch": "3"},
    )
    theirs = safetensors.numpy.load_file(str(path))
    assert set(theirs) == set(arrays)
    for name, array in arrays.items():
        assert (theirs[name].dtype, theirs[name].shape) == (array.dtype, array.shape), name
        np.testing.assert_array_equal(_bits(theirs[name]), _bits(array), err_msg=name)
    with safetensors.safe_open(str(path), "np") as f:
        assert f.metadata() == {"epoch": "3"}
    as_torch = safetensors.torch.load_file(str(path))
    assert as_torch["i64"].dtype == torch.int64
    assert as_torch["f32"].shape == (3, 4)
    np.testing.assert_array_equal(as_torch["f32"].numpy(), ARRAYS["f32"])


def test_file_bytes_match_reference_layout(device, tmp_path):
    """The data section matches the package's byte for byte (the header is JSON: compared parsed)."""
    arrays = {"b": np.arange(3, dtype=np.int16), "a": np.ones((2, 2), np.float64)}
    ours, theirs = tmp_path / "ours.safetensors", tmp_path / "theirs.safetensors"
    safe_save({k: Tensor(v, device=device) for k, v in arrays.items()}, ours)
    safetensors.numpy.save_file(arrays, str(theirs))
    raw_ours, raw_theirs = ours.read_bytes(), theirs.read_bytes()
    n_ours, n_theirs = struct.unpack("<Q", raw_ours[:8])[0], struct.unpack("<Q", raw_theirs[:8])[0]
    assert n_ours % 8 == 0
    assert json.loads(raw_ours[8 : 8 + n_ours]) == json.loads(raw_theirs[8 : 8 + n_theirs])
    assert raw_ours[8 + n_ours :] == raw_theirs[8 + n_theirs :]


def test_bfloat16_from_torch(device, tmp_path):
    path = tmp_path / "bf16.safetensors"
    values = torch.tensor([1.0, -2.5, 3.140625, 1e-30, float("inf"), 65280.0], dtype=torch.bfloat16)
    safetensors.torch.save_file({"w": values}, str(path))
    loaded = safe_load(path, device=device)["w"]
    if dtypes.bfloat16 in Device[device].dtypes:
        assert loaded.dtype == dtypes.bfloat16
        assert (
            loaded.bitcast(dtypes.uint16).numpy().tolist() == values.view(torch.int16).numpy().view(np.uint16).tolist()
        )
        safe_save({"w": loaded}, tmp_path / "back.safetensors")
        assert torch.equal(safetensors.torch.load_file(str(tmp_path / "back.safetensors"))["w"], values)
    else:
        # no bfloat16 on this device: float32 holds every bfloat16 value exactly, bits shifted up by 16
        assert loaded.dtype == dtypes.float32
        expected = values.view(torch.int16).numpy().view(np.uint16).astype(np.uint32) << 16
        np.testing.assert_array_equal(loaded.numpy().view(np.uint32), expected)


def test_safe_save_rejects_bad_input(device, tmp_path):
    with pytest.raises(SafetensorsError, match="metadata"):
        safe_save({"a": Tensor([1.0], device=device)}, tmp_path / "x.safetensors", metadata={"epoch": 3})
    with pytest.raises(SafetensorsError, match="not a Tensor"):
        safe_save({"a": np.zeros(2)}, tmp_path / "x.safetensors")
    assert not list(tmp_path.iterdir())


# --- malformed files ---
def _file(header, data=b"", length=None):
    encoded = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(encoded) if length is None else length) + encoded + data


GOOD = {
    "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
    "b": {"dtype": "U8", "shape": [2], "data_offsets": [8, 10]},
}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "truncated: 0 bytes"),
        (b"\x05\x00\x00", "truncated: 3 bytes"),
        (_file(GOOD, bytes(10), length=10**6), "header length 1000000"),
        (_file(GOOD, bytes(10), length=2**63), "header length"),
        (_file(b"{not json}"), "not valid JSON"),
        (_file(b"\xff\xfe"), "not valid JSON"),
        (_file([1, 2]), "JSON list, not an object"),
        (_file(b'{"a": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}, "a": 1}'), "more than once"),
        (_file(GOOD, bytes(9)), "reach past the end"),
        (_file(GOOD, bytes(12)), "trailing"),
        (_file({**GOOD, "b": {"dtype": "U8", "shape": [2], "data_offsets": [6, 8]}}, bytes(10)), "overlaps"),
        (_file({**GOOD, "b": {"dtype": "U8", "shape": [2], "data_offsets": [9, 11]}}, bytes(11)), "gap"),
        (_file({**GOOD, "b": {"dtype": "U8", "shape": [2], "data_offsets": [10, 8]}}, bytes(10)), "begin <= end"),
        (_file({**GOOD, "b": {"dtype": "U8", "shape": [3], "data_offsets": [8, 10]}}, bytes(10)), "needs 3"),
        (
            _file({**GOOD, "b": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [8, 10]}}, bytes(10)),
            "unsupported dtype 'F8_E4M3'",
        ),
        (_file({**GOOD, "b": {"dtype": "U8", "shape": [-2], "data_offsets": [8, 10]}}, bytes(10)), "non-negative"),
        (_file({**GOOD, "b": {"dtype": "U8", "shape": [2], "data_offsets": [8]}}, bytes(10)), "begin, end"),
        (_file({**GOOD, "b": {"dtype": "U8", "shape": [2]}}, bytes(10)), "exactly the fields"),
        (_file({**GOOD, "__metadata__": {"n": 1}}, bytes(10)), "__metadata__"),
    ],
)
def test_malformed_files(device, tmp_path, raw, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(raw)
    with pytest.raises(SafetensorsError, match=message.replace("(", r"\(").replace("[", r"\[")):
        safe_load(path, device=device)


def test_well_formed_reference_file_parses(device):
    loaded = safe_load(_file(GOOD, np.array([1.0, 2.0], np.float32).tobytes() + b"\x07\x08"), device=device)
    assert loaded["a"].tolist() == [1.0, 2.0]
    assert loaded["b"].tolist() == [7, 8]


def test_loading_executes_no_code(device, tmp_path):
    """A pickle payload in the data section is just bytes to us."""
    import pickle

    payload = pickle.dumps(Exception("boom"))
    raw = _file({"x": {"dtype": "U8", "shape": [len(payload)], "data_offsets": [0, len(payload)]}}, payload)
    assert bytes(safe_load(raw, device=device)["x"].numpy()) == payload


NESTED = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_file(NESTED), "too deeply"),
        (_file(b'{"a": ' + b"9" * 10_000 + b"}"), "not valid JSON"),  # an integer too long to convert
        (_file({**GOOD, "b": {"dtype": ["U8"], "shape": [2], "data_offsets": [8, 10]}}, bytes(10)), "dtype"),
        (_file({**GOOD, "b": {"dtype": "U8", "shape": [0, 2**62], "data_offsets": [8, 8]}}, bytes(8)), "too large"),
        (_file({**GOOD, "__metadata__": []}, bytes(10)), "__metadata__"),
        (_file({**GOOD, "__metadata__": {"k": "\ud800"}}, bytes(10)), "UTF-8"),
        (_file({"\ud800": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}), "UTF-8"),
    ],
)
def test_hostile_headers_raise_safetensors_errors(tmp_path, raw, message):
    with pytest.raises(SafetensorsError, match=message):
        safe_load(raw, device="CPU")


def test_a_header_of_100000_keys_is_checked_in_linear_time():
    """The duplicate-key check used to be quadratic (more than 2 minutes for this header)."""
    keys = {f"t{i}": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]} for i in range(100_000)}
    encoded = json.dumps(keys).encode()
    duplicated = encoded[:-1] + b', "t7": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}'
    with pytest.raises(SafetensorsError, match=r"^header names 't7' more than once"):
        safe_load(_file(duplicated), device="CPU")
    assert len(safe_load(_file(encoded), device="CPU")) == 100_000


def test_random_corruptions_raise_only_safetensors_errors():
    """Bytes of a valid file flipped, cut and repeated at random: a clean file or a SafetensorsError, nothing else."""
    rng = np.random.default_rng(0)
    valid = _file(GOOD, np.array([1.0, 2.0], np.float32).tobytes() + b"\x07\x08")
    outcomes = {"loaded": 0, "rejected": 0}
    for _ in range(3000):
        raw = bytearray(valid)
        for _ in range(int(rng.integers(1, 4))):
            if not raw:
                break
            kind = rng.integers(0, 3)
            at = int(rng.integers(0, len(raw)))
            if kind == 0:
                raw[at] = int(rng.integers(0, 256))
            elif kind == 1:
                del raw[at:]
            else:
                raw[at:at] = raw[at : at + int(rng.integers(1, 20))]
        try:
            safe_load(bytes(raw), device="CPU")
            outcomes["loaded"] += 1
        except SafetensorsError:
            outcomes["rejected"] += 1
    assert outcomes["rejected"] > 2500  # nearly every corruption is caught: anything else would have escaped above
    assert sum(outcomes.values()) == 3000
