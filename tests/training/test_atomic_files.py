"""What a recipe trusts to say a run finished (result.json, its weights) is whole or absent after any kill."""
from __future__ import annotations

import pytest

from training.engine.atomic_files import staged, write_text_atomic


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_debris(tmp_path):
    path = tmp_path / "result.json"
    write_text_atomic(path, '{"epochs": 15}\n')
    with pytest.raises(RuntimeError):
        with staged(path) as partial:
            partial.write_text('{"epo')  # a kill here: the final name never sees the half-written file
            raise RuntimeError("killed")
    assert path.read_text() == '{"epochs": 15}\n' and [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_a_finished_write_replaces_the_file(tmp_path):
    path = tmp_path / "result.json"
    write_text_atomic(path, "old")
    write_text_atomic(path, "new")
    assert path.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["result.json"]
