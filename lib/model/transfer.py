"""Start a new model from a trained one: copy the weights that fit, and name the parts that can be frozen.

A network's *parts* are its named sub-models (``encoder``, ``decoder_a``, ``decoder_b``, ``inter_shared``,
``decoder`` ...), as the plugins build them. Keras numbers its layers per process (``conv2d_12``), so a
weight is known by its part and its place in that part, not by its layer's name: weight *i* of the source's
``encoder`` goes into weight *i* of the new ``encoder`` when both have the same shape. Another plugin or other
settings share only what really has the same shape at the same place (often nothing, which is then said).
"""
from __future__ import annotations

import logging

import numpy as np

from lib.errors import FaceswapError

log = logging.getLogger(__name__)


def parts(network) -> dict[str, list]:
    """The network's named sub-models and their weights (variables), in the joint model's order."""
    import keras
    return {layer.name: list(layer.weights) for layer in network.joint.layers
            if isinstance(layer, keras.Model) and layer.weights}


def copy_fitting(source, target) -> dict:
    """Copy the weights of network ``source`` into network ``target`` where part, place and shape agree.

    Returns {"copied": weights copied, "total": weights of ``target``, "parameters": values copied,
    "parts": {part: [copied, of]}}; a part missing in ``source`` counts as [0, of]."""
    have = parts(source)
    summary = {"copied": 0, "total": 0, "parameters": 0, "parts": {}}
    for name, variables in parts(target).items():
        theirs = have.get(name, [])
        copied = 0
        for i, var in enumerate(variables):
            if i < len(theirs) and tuple(theirs[i].shape) == tuple(var.shape):
                var.assign(np.asarray(theirs[i].numpy()).astype(var.dtype, copy=False))
                copied += 1
                summary["parameters"] += int(np.prod(var.shape))
        summary["parts"][name] = [copied, len(variables)]
        summary["copied"] += copied
        summary["total"] += len(variables)
    return summary


def describe(summary: dict) -> str:
    """``encoder 12/12, decoder_a 8/8, decoder_b 0/8`` (weights copied per part)."""
    return ", ".join(f"{name} {done}/{of}" for name, (done, of) in summary["parts"].items())


def frozen_variables(network, names) -> list:
    """The variables of the parts ``names``; an unknown part is an error that lists this model's parts."""
    table = parts(network)
    unknown = [name for name in names if name not in table]
    if unknown:
        raise FaceswapError(f"--freeze {' '.join(unknown)}: this '{network.plugin_name}' model has no such part; "
                            f"its parts are {', '.join(table)}")
    return [var for name in names for var in table[name]]
