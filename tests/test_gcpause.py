"""Compilations run with the cyclic garbage collector paused, and leave it as they found it."""
from __future__ import annotations

import gc
import threading

import pytest

from constrain import compile_lark, compile_regex
from constrain.gcpause import paused
from constrain.mask.cfg import CFGGrammar
from constrain.schema import SchemaError, compile_json_schema


def test_compilations_pause_the_collector(smollm2_vocab, monkeypatch):
    seen = []
    original = CFGGrammar.__init__

    def spy(self, *args, **kwargs):
        seen.append(gc.isenabled())
        original(self, *args, **kwargs)

    monkeypatch.setattr(CFGGrammar, "__init__", spy)
    assert gc.isenabled()
    compile_json_schema({"type": "object", "properties": {"a": {"type": "string"}}}, smollm2_vocab)
    compile_lark('start: "a"+', smollm2_vocab)
    assert seen == [False, False] and gc.isenabled()
    compile_regex("[a-z]+", smollm2_vocab)
    assert gc.isenabled()
    with pytest.raises(SchemaError):
        compile_json_schema({"type": "no such type"}, smollm2_vocab)
    assert gc.isenabled(), "an error left the collector off"
    gc.disable()
    try:
        compile_regex("x", smollm2_vocab)
        assert not gc.isenabled(), "a compilation turned on a collector the caller had turned off"
    finally:
        gc.enable()


def test_overlapping_pauses_end_with_the_last():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    states = []

    def first():
        with paused():
            first_in.set()
            second_in.wait()
        first_out.set()

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait()
    with paused():
        second_in.set()
        first_out.wait()
        states.append(gc.isenabled())  # the first one ended, this one still runs
    thread.join()
    states.append(gc.isenabled())
    assert states == [False, True]
