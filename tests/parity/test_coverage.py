"""The suite covers every layer of phases 01-05: each NumPy ``Module`` class has a torch twin
(``phase06.cases.TWINS``) and at least one example in ``phase06.cases.CATALOGUE`` (which the
figure measures; the hypothesis tests of this folder draw the same builders' shapes)."""

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

from phase01.module import Module
from phase06 import cases

# Base classes: never built on their own, each tested through its subclasses.
ABSTRACT = {"phase01.module.Module", "phase01.module.ModuleList", "phase02.rnn._Recurrent",
            "phase02.rnn._Cell", "phase04.alignment._Attention", "phase05.blocks.ResidualLayer",
            "phase04.seq2seq_attention.AttentionSeq2Seq"}


def numpy_layers() -> set[str]:
    found = set()
    for phase in ("phase01", "phase02", "phase03", "phase04", "phase05"):
        package = importlib.import_module(phase)
        for info in pkgutil.iter_modules(package.__path__):
            module = importlib.import_module(f"{phase}.{info.name}")
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if cls.__module__ == module.__name__ and issubclass(cls, Module):
                    found.add(f"{cls.__module__}.{cls.__name__}")
    return found


def test_every_numpy_layer_has_a_twin():
    twins = {f"{c.__module__}.{c.__name__}" for c in cases.TWINS}
    missing = numpy_layers() - ABSTRACT - twins
    assert not missing, f"NumPy layers without a torch twin: {sorted(missing)}"
    assert len(twins) >= 39


@pytest.fixture(scope="module")
def catalogue_cases():
    return [(component, build(np.random.default_rng(0)))
            for component, builders in cases.CATALOGUE.items() for build in builders]


def test_every_twin_is_in_the_catalogue(catalogue_cases):
    built = {case.component for _, case in catalogue_cases}
    names = {f"{c.__module__}.{c.__name__}": c for c in cases.TWINS}
    assert not set(names) - built, f"no example for {sorted(set(names) - built)}"
    for _, case in catalogue_cases:                   # each example pairs a class with its own twin
        assert type(case.twin) is cases.TWINS[type(case.numpy)], case.component
