"""Reader of `user item item …` sequence files (amazon-seq)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from synthrec.data.amazon_seq import read_sequence_file
from synthrec.data.splits import leave_last_out
from synthrec.errors import DataValidationError


def test_reads_lines_in_order(tmp_path: Path) -> None:
    path = tmp_path / "toy.txt"
    path.write_text("7 30 10 20\n\n9 10 40\n8 55\n")
    data = read_sequence_file(path)
    assert data.name == "toy" and data.n_users == 3 and data.n_items == 5
    assert data.user_ids.to_list() == [7, 9, 8]
    ext = data.item_ids.to_numpy()[data.interactions["item"].to_numpy()]
    np.testing.assert_array_equal(ext, [30, 10, 20, 10, 40, 55])
    np.testing.assert_array_equal(data.interactions["user"].to_numpy(), [0, 0, 0, 1, 1, 2])
    assert "timestamp" not in data.interactions.columns
    # row order is time order: leave-last-out holds out each user's last item (user 8 has one event: kept)
    test = leave_last_out(data).test
    assert sorted(data.item_ids.to_numpy()[test.interactions["item"].to_numpy()].tolist()) == [20, 40]


def test_string_ids_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("u1 a b\nu2 b\n")
    assert read_sequence_file(path).item_ids.to_list() == ["a", "b"]
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2 3\n4\n")
    with pytest.raises(DataValidationError, match="row 2"):
        read_sequence_file(bad)
    with pytest.raises(DataValidationError, match="no such file"):
        read_sequence_file(tmp_path / "missing.txt")


def test_beauty_sizes(shared_data: Path) -> None:
    data = read_sequence_file(shared_data / "amazon-seq" / "Beauty.txt")
    assert (data.n_users, data.n_items, data.n_interactions) == (22_363, 12_101, 198_502)
