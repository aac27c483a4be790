"""The TF.js graph reader, on a tiny graph written here the way TF.js's converter writes one:
fused ops, float16 weights, outputs named with and without ":0"."""

import base64
import json

import numpy as np
import pytest
import tensorflow as tf

from data.errors import LookoutError
from trainer.tfjs_graph import TFJSGraph

RNG = np.random.default_rng(0)
WEIGHTS = {  # name -> value, stored as float16 (so the expected outputs use the float16-rounded values)
    "conv/kernel": RNG.normal(0, 0.5, (3, 3, 3, 4)),
    "conv/bias": RNG.normal(0, 0.1, (4,)),
    "depthwise/kernel": RNG.normal(0, 0.5, (3, 3, 4, 1)),
    "depthwise/bias": RNG.normal(0, 0.1, (4,)),
    "dense/kernel": RNG.normal(0, 0.5, (4, 2)),
    "dense/bias": RNG.normal(0, 0.1, (2,)),
    "mean/axes": None,  # int32, stored as it is
}


def _s(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _fused(name, op, inputs, steps, **attr):
    return {"name": name, "op": op, "input": inputs, "attr": {
        "T": {"type": "DT_FLOAT"}, "fused_ops": {"list": {"s": [_s(s) for s in steps]}}, "num_args": {"i": "1"}, **attr}}


def _const(name, dtype="DT_FLOAT"):
    return {"name": name, "op": "Const", "attr": {"dtype": {"type": dtype}, "value": {"tensor": {"dtype": dtype}}}}


def _conv_attrs():
    return {"strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": {"s": _s("SAME")},
            "data_format": {"s": _s("NHWC")}, "dilations": {"list": {"i": ["1", "1", "1", "1"]}}}


def tfjs_model(folder, *, fused_activation="Relu6"):
    """model.json + weights.bin in TF.js's graph-model format; returns the model.json path."""
    nodes = [
        {"name": "image", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"}, "shape": {"shape": {"dim": [
            {"size": "-1"}, {"size": "8"}, {"size": "8"}, {"size": "3"}]}}}},
        *[_const(n, "DT_INT32" if n == "mean/axes" else "DT_FLOAT") for n in WEIGHTS],
        _fused("conv/Relu", "_FusedConv2D", ["image", "conv/kernel", "conv/bias"], ["BiasAdd", "Relu"], **_conv_attrs()),
        _fused("depthwise/act", "FusedDepthwiseConv2dNative", ["conv/Relu", "depthwise/kernel", "depthwise/bias"],
               ["BiasAdd", fused_activation], **_conv_attrs()),
        {"name": "pool/Mean", "op": "Mean", "input": ["depthwise/act", "mean/axes"],
         "attr": {"T": {"type": "DT_FLOAT"}, "Tidx": {"type": "DT_INT32"}, "keep_dims": {"b": False}}},
        _fused("dense/BiasAdd", "_FusedMatMul", ["pool/Mean", "dense/kernel", "dense/bias"], ["BiasAdd"],
               transpose_a={"b": False}, transpose_b={"b": False}),
        {"name": "dense/Softmax", "op": "Softmax", "input": ["dense/BiasAdd"], "attr": {"T": {"type": "DT_FLOAT"}}},
    ]
    manifest, shards = [], []
    for name, value in WEIGHTS.items():
        if value is None:
            manifest.append({"name": name, "shape": [2], "dtype": "int32"})
            shards.append(np.array([1, 2], "<i4").tobytes())
        else:
            manifest.append({"name": name, "shape": list(value.shape), "dtype": "float32",
                             "quantization": {"dtype": "float16", "original_dtype": "float32"}})
            shards.append(value.astype("<f2").tobytes())
    spec = {"format": "graph-model", "generatedBy": "test", "convertedBy": "test",
            "signature": {"inputs": {"image": {"name": "image:0", "dtype": "DT_FLOAT"}},
                          "outputs": {"pool/Mean": {"name": "pool/Mean"}, "dense/Softmax:0": {"name": "dense/Softmax:0"}}},
            "modelTopology": {"node": nodes, "versions": {"producer": 1395}},
            "weightsManifest": [{"paths": ["weights.bin"], "weights": manifest}]}
    (folder / "weights.bin").write_bytes(b"".join(shards))
    (folder / "model.json").write_text(json.dumps(spec))
    return folder / "model.json"


def expected(batch):
    """The same network written with TensorFlow's own ops, on the float16-rounded weights."""
    w = {name: tf.constant(v.astype("float16").astype("float32")) for name, v in WEIGHTS.items() if v is not None}
    x = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(batch, w["conv/kernel"], 1, "SAME"), w["conv/bias"]))
    x = tf.nn.relu6(tf.nn.bias_add(tf.nn.depthwise_conv2d(x, w["depthwise/kernel"], [1, 1, 1, 1], "SAME"), w["depthwise/bias"]))
    pooled = tf.reduce_mean(x, axis=[1, 2])
    return pooled.numpy(), tf.nn.softmax(pooled @ w["dense/kernel"] + w["dense/bias"]).numpy()


def test_a_tfjs_graph_with_fused_ops_and_float16_weights_gives_tensorflows_outputs(tmp_path):
    graph = TFJSGraph(tfjs_model(tmp_path))
    batch = RNG.normal(0, 1, (3, 8, 8, 3)).astype("float32")
    out = graph(batch)
    pooled, probs = expected(batch)
    assert graph.output_names == ["pool/Mean:0", "dense/Softmax:0"]  # named with or without ":0", found either way
    assert np.allclose(out["pool/Mean:0"], pooled, atol=1e-5)
    assert np.allclose(out["dense/Softmax:0"], probs, atol=1e-5)
    assert not np.allclose(probs[0], probs[1])  # the inputs matter: the test could fail


def test_one_output_can_be_asked_for(tmp_path):
    graph = TFJSGraph(tfjs_model(tmp_path), outputs=["pool/Mean"])
    assert list(graph(np.zeros((1, 8, 8, 3), "float32"))) == ["pool/Mean:0"]


def _cut_short(folder):
    (folder / "weights.bin").write_bytes((folder / "weights.bin").read_bytes()[:-10])


def _lose_shard(folder):
    (folder / "weights.bin").unlink()


def _not_json(folder):
    (folder / "model.json").write_text("{not json")


def _no_topology(folder):
    (folder / "model.json").write_text(json.dumps({"format": "layers-model"}))


def _shard_outside(folder):
    spec = json.loads((folder / "model.json").read_text())
    spec["weightsManifest"][0]["paths"] = ["../../etc/passwd"]
    (folder / "model.json").write_text(json.dumps(spec))


@pytest.mark.parametrize("damage, says", [
    (_cut_short, "shorter than the model says"),
    (_lose_shard, "weights.bin is missing"),
    (_not_json, "cannot be read as a TF.js model"),
    (_no_topology, "not a TF.js graph model"),
    (_shard_outside, "passwd is missing"),  # a shard is looked for beside the model only
])
def test_a_damaged_tfjs_model_is_refused_with_the_file_named(tmp_path, damage, says):
    model_json = tfjs_model(tmp_path)
    damage(tmp_path)
    with pytest.raises(LookoutError, match=says):
        TFJSGraph(model_json)


def test_a_fused_op_that_cannot_be_split_is_named(tmp_path):
    with pytest.raises(LookoutError, match="depthwise/act fuses .*Prelu"):
        TFJSGraph(tfjs_model(tmp_path, fused_activation="Prelu"))
