"""Tiny ONNX classifiers for the injection model slot's tests and bench, exported here with the ``onnx``
helper API (no model file is checked in).

:func:`bag_of_words` is a real, if small, classifier that meets the slot's contract: a string tensor in,
lower-cased and split into words in the graph (``StringNormalizer``, ``com.microsoft.Tokenizer``),
counted over a fixed vocabulary (``TfIdfVectorizer``), then a logistic regression (``MatMul``, ``Add``,
``Sigmoid``) out, one probability per text. The ``shape`` argument and :func:`broken` give the models
that break the contract one way each, for the fail-closed tests.

Needs the ``onnx`` package (the ``dev`` extra); onnxruntime runs what it writes.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

Broken = Literal["float_input", "two_inputs", "int_output", "three_columns", "fails_to_run", "unbounded"]


def _write(model: Any, path: str | Path) -> str:
    import onnx

    model.ir_version = 8
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _opsets() -> list[Any]:
    from onnx import helper

    return [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]


def _counts(vocabulary: list[str], text: str = "text") -> list[Any]:
    """Nodes from the string input ``text`` to ``counts`` (float [N, len(vocabulary)])."""
    from onnx import helper

    return [
        helper.make_node("StringNormalizer", [text], ["low"], case_change_action="LOWER", locale="C"),
        helper.make_node(
            "Tokenizer",
            ["low"],
            ["tokens"],
            domain="com.microsoft",
            mark=0,
            pad_value="#",
            separators=["[^a-z0-9]+"],
            mincharnum=1,
        ),
        helper.make_node(
            "TfIdfVectorizer",
            ["tokens"],
            ["counts"],
            mode="TF",
            min_gram_length=1,
            max_gram_length=1,
            max_skip_count=0,
            ngram_counts=[0],
            ngram_indexes=list(range(len(vocabulary))),
            pool_strings=vocabulary,
        ),
    ]


def bag_of_words(
    path: str | Path,
    weights: dict[str, float],
    bias: float = -4.0,
    *,
    shape: Literal["n", "n1", "n2"] = "n",
    input_rank: int = 1,
) -> str:
    """Write a logistic regression over word counts: ``sigmoid(bias + Σ weight[word] · count(word))``.

    ``shape``: the output's, ``[N]``, ``[N, 1]`` or ``[N, 2]`` (``1 - p``, ``p``); ``input_rank`` 2 takes
    ``[N, 1]``. Returns the file's SHA-256 (what a policy pins)."""
    import numpy as np
    from onnx import TensorProto, helper

    vocabulary = sorted(weights)
    w = np.array([[weights[v]] for v in vocabulary], dtype=np.float32)
    nodes = []
    source = "text"
    if input_rank == 2:
        nodes.append(helper.make_node("Reshape", ["text", "flat"], ["text1"]))
        source = "text1"
    nodes += _counts(vocabulary, source)
    nodes += [
        helper.make_node("MatMul", ["counts", "w"], ["logit0"]),
        helper.make_node("Add", ["logit0", "b"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["p"]),  # [N, 1]
    ]
    out_shape: list[Any]
    if shape == "n":
        nodes.append(helper.make_node("Reshape", ["p", "flat"], ["probability"]))
        out_shape = ["N"]
    elif shape == "n1":
        nodes.append(helper.make_node("Identity", ["p"], ["probability"]))
        out_shape = ["N", 1]
    else:
        nodes += [
            helper.make_node("Sub", ["one", "p"], ["q"]),
            helper.make_node("Concat", ["q", "p"], ["probability"], axis=1),
        ]
        out_shape = ["N", 2]
    graph = helper.make_graph(
        nodes,
        "ramparts-test-bag-of-words",
        [helper.make_tensor_value_info("text", TensorProto.STRING, ["N"] if input_rank == 1 else ["N", 1])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, out_shape)],
        initializer=[
            helper.make_tensor("w", TensorProto.FLOAT, list(w.shape), w.flatten().tolist()),
            helper.make_tensor("b", TensorProto.FLOAT, [1], [bias]),
            helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]),
            helper.make_tensor("flat", TensorProto.INT64, [1], [-1]),
        ],
    )
    return _write(helper.make_model(graph, opset_imports=_opsets()), path)


def broken(path: str | Path, how: Broken) -> str:
    """Write a model that breaks the slot's contract in one way; returns its SHA-256.

    ``float_input``: the input is a float tensor; ``two_inputs``: a second input; ``int_output``: the
    output is int64; ``three_columns``: the output is ``[N, 3]``; ``fails_to_run``: the signature is
    right but every run fails (a reshape to a fixed size that no batch has); ``unbounded``: right
    signature, but it answers the raw count of the word ``boom`` (above 1 when it occurs twice)."""
    from onnx import TensorProto, helper

    string_in = helper.make_tensor_value_info("text", TensorProto.STRING, ["N"])
    prob_out = helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N"])
    flat = helper.make_tensor("flat", TensorProto.INT64, [1], [-1])
    nodes: list[Any]
    inputs, outputs, inits = [string_in], [prob_out], [flat]
    if how == "float_input":
        inputs = [helper.make_tensor_value_info("text", TensorProto.FLOAT, ["N", 8])]
        nodes = [helper.make_node("ReduceMax", ["text"], ["probability"], keepdims=0)]
    elif how == "two_inputs":
        inputs = [string_in, helper.make_tensor_value_info("mask", TensorProto.INT64, ["N"])]
        nodes = [*_counts(["x"]), helper.make_node("Reshape", ["counts", "flat"], ["probability"])]
    elif how == "int_output":
        outputs = [helper.make_tensor_value_info("probability", TensorProto.INT64, ["N"])]
        nodes = [
            *_counts(["x"]),
            helper.make_node("Reshape", ["counts", "flat"], ["c"]),
            helper.make_node("Cast", ["c"], ["probability"], to=TensorProto.INT64),
        ]
    elif how == "three_columns":
        outputs = [helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", 3])]
        nodes = [*_counts(["x", "y", "z"])]
        nodes.append(helper.make_node("Identity", ["counts"], ["probability"]))
    elif how == "fails_to_run":
        inits = [helper.make_tensor("flat", TensorProto.INT64, [1], [7])]
        nodes = [*_counts(["x"]), helper.make_node("Reshape", ["counts", "flat"], ["probability"])]
    else:  # unbounded
        nodes = [*_counts(["boom"]), helper.make_node("Reshape", ["counts", "flat"], ["probability"])]
    graph = helper.make_graph(nodes, f"ramparts-test-{how}", inputs, outputs, initializer=inits)
    return _write(helper.make_model(graph, opset_imports=_opsets()), path)
