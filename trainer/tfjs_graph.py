"""A TensorFlow.js graph model (model.json + weight shards) run by the TensorFlow Lookout already ships.

A TF.js graph model is a GraphDef written as JSON (`modelTopology`) whose constants were moved into
binary shards listed in `weightsManifest`. Reading one back is: parse the GraphDef, read each weight
from the shards (dequantizing where the manifest says it was stored smaller, e.g. float16), put it
into the Const node of the same name, split the fused ops TF.js's converter made (TensorFlow cannot
import `FusedDepthwiseConv2dNative`, a TF.js-only name), and import the graph.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from data.errors import LookoutError

# manifest dtype -> numpy dtype, for weights stored as they are
_STORED = {"float32": "<f4", "int32": "<i4", "bool": "bool"}
_QUANTIZED = {"float16": "<f2", "uint8": "u1", "uint16": "<u2"}
# fused ops TF.js writes -> the plain op they fuse (bias and activation follow)
_FUSED = {"_FusedConv2D": "Conv2D", "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative",
          "_FusedDepthwiseConv2dNative": "DepthwiseConv2dNative", "_FusedMatMul": "MatMul"}
_ACTIVATIONS = {"Relu", "Relu6", "Elu", "Selu", "Sigmoid", "Tanh", "LeakyRelu"}


class TFJSGraph:
    """A TF.js graph model: call it with a float32 batch, get {output name: array}."""

    def __init__(self, model_json: Path, *, outputs: list[str] | None = None):
        """model_json: the model's .json, its weight shards beside it; outputs: tensor or node names
        (default: the signature's outputs)."""
        import tensorflow as tf

        spec = _read_json(model_json)
        graph_def = _graph_def(spec, model_json)
        _fill_weights(graph_def, spec, model_json.parent)
        graph_def = _unfused(graph_def)
        signature = spec.get("signature") or {}
        inputs = [_tensor_name(i.get("name", k)) for k, i in (signature.get("inputs") or {}).items()]
        inputs = inputs or [f"{n.name}:0" for n in graph_def.node if n.op == "Placeholder"]
        wanted = outputs or [o.get("name", k) for k, o in (signature.get("outputs") or {}).items()]
        if len(inputs) != 1 or not wanted:
            raise LookoutError(f"{model_json} does not name one input and its outputs; it is not a model Lookout can run.")
        self.output_names = [_tensor_name(name) for name in wanted]
        imported = tf.compat.v1.wrap_function(lambda: tf.graph_util.import_graph_def(graph_def, name=""), [])
        try:
            self._run = imported.prune(imported.graph.get_tensor_by_name(inputs[0]),
                                       [imported.graph.get_tensor_by_name(n) for n in self.output_names])
        except (KeyError, ValueError) as exc:
            raise LookoutError(f"{model_json}: {exc}") from None

    def __call__(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        import tensorflow as tf

        outputs = self._run(tf.constant(batch, tf.float32))
        return {name: np.asarray(out) for name, out in zip(self.output_names, outputs)}


def _tensor_name(name: str) -> str:
    """Signatures write outputs as "node:0" or "node"; the graph knows tensors as "node:0"."""
    return name if ":" in name else f"{name}:0"


def _read_json(model_json: Path) -> dict:
    try:
        spec = json.loads(model_json.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LookoutError(f"{model_json} cannot be read as a TF.js model ({exc}).") from None
    if not isinstance(spec, dict) or spec.get("format", "graph-model") != "graph-model" or "modelTopology" not in spec:
        raise LookoutError(f"{model_json} is not a TF.js graph model (no modelTopology).")
    return spec


def _graph_def(spec: dict, model_json: Path):
    import tensorflow as tf
    from google.protobuf import json_format

    topology = {key: value for key, value in spec["modelTopology"].items() if key in ("node", "versions", "library")}
    try:
        return json_format.ParseDict(topology, tf.compat.v1.GraphDef(), ignore_unknown_fields=True)
    except json_format.ParseError as exc:
        raise LookoutError(f"{model_json}: its graph cannot be read ({exc}).") from None


def _weights(spec: dict, folder: Path) -> dict[str, np.ndarray]:
    """Every weight named in the manifest, as the dtype the manifest gives, dequantized."""
    weights = {}
    for group in spec.get("weightsManifest", []):
        shards = []
        for name in group["paths"]:
            path = folder / Path(name).name  # a shard beside the model, never elsewhere
            try:
                shards.append(path.read_bytes())
            except OSError:
                raise LookoutError(f"{path} is missing: the model's weights must sit beside {folder}.") from None
        data, offset = b"".join(shards), 0
        for entry in group["weights"]:
            count = int(np.prod(entry["shape"], dtype=np.int64))
            quantized = entry.get("quantization") or {}
            stored = _stored_dtype(entry["dtype"], quantized.get("dtype"))
            size = count * stored.itemsize
            if offset + size > len(data):
                raise LookoutError(f"The weights in {folder} are shorter than the model says: download them again.")
            values = np.frombuffer(data, stored, count, offset).reshape(entry["shape"])
            if quantized.get("dtype") in ("uint8", "uint16"):
                values = values * quantized["scale"] + quantized["min"]
            weights[entry["name"]] = values.astype(entry["dtype"])
            offset += size
    return weights


def _stored_dtype(dtype: str, quantized_as: str | None) -> np.dtype:
    """How a weight sits in its shard: its own dtype, or the smaller one the converter quantized it to."""
    stored = _QUANTIZED.get(quantized_as) if quantized_as else _STORED.get(dtype)
    if stored is None:
        raise LookoutError(f"A weight stored as {quantized_as or dtype} is not one Lookout reads.")
    return np.dtype(stored)


def _fill_weights(graph_def, spec: dict, folder: Path) -> None:
    import tensorflow as tf

    weights = _weights(spec, folder)
    for node in graph_def.node:
        if node.op == "Const" and node.name in weights:
            value = weights.pop(node.name)
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
            node.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
    if weights:
        raise LookoutError(f"The weights in {folder} name nodes the graph does not have ({sorted(weights)[:3]}).")


def _unfused(graph_def):
    """The graph with each fused op written as its op, BiasAdd and activation, under the fused op's
    name (so what reads its output still finds it)."""
    out = type(graph_def)()
    out.versions.CopyFrom(graph_def.versions)
    out.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.op not in _FUSED:
            out.node.add().CopyFrom(node)
            continue
        steps = [op.decode() if isinstance(op, bytes) else op for op in node.attr["fused_ops"].list.s]
        if not steps or steps[0] != "BiasAdd" or len(steps) > 2 or any(s not in _ACTIVATIONS for s in steps[1:]):
            raise LookoutError(f"Node {node.name} fuses {steps}, which Lookout cannot split; only BiasAdd and an activation.")
        base = copy.deepcopy(node)
        base.op, base.name = _FUSED[node.op], f"{node.name}/op"
        del base.input[2:]
        for attr in ("fused_ops", "num_args", "epsilon", "leakyrelu_alpha", "num_host_args"):
            base.attr.pop(attr, None)
        if base.op == "MatMul":
            for attr in ("explicit_paddings", "dilations", "strides", "padding", "data_format"):
                base.attr.pop(attr, None)
        chain = [base]
        bias = _node(f"{node.name}/bias" if len(steps) > 1 else node.name, "BiasAdd", [base.name, node.input[2]], node)
        if "data_format" in node.attr and base.op != "MatMul":
            bias.attr["data_format"].CopyFrom(node.attr["data_format"])
        chain.append(bias)
        if len(steps) > 1:
            activation = _node(node.name, steps[1], [bias.name], node)
            if steps[1] == "LeakyRelu":
                activation.attr["alpha"].f = node.attr["leakyrelu_alpha"].f
            chain.append(activation)
        for part in chain:
            out.node.add().CopyFrom(part)
    return out


def _node(name: str, op: str, inputs: list[str], like):
    part = type(like)()
    part.name, part.op = name, op
    part.input.extend(inputs)
    part.attr["T"].CopyFrom(like.attr["T"])
    if like.device:
        part.device = like.device
    return part
