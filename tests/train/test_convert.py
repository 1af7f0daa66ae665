import gzip

import numpy as np
import pytest
from click.testing import CliRunner
from torchvision.datasets import ImageFolder

from fdsl_train.cli import cli
from fdsl_train.convert import read_idx
from fdsl_train.errors import UserError


def idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_idx_files_become_an_image_folder(tmp_path):
    images = np.arange(5 * 28 * 28).reshape(5, 28, 28) % 256
    labels = np.array([3, 1, 3, 0, 1])
    (tmp_path / "img.gz").write_bytes(gzip.compress(idx(images)))
    (tmp_path / "lbl").write_bytes(idx(labels))
    result = CliRunner().invoke(cli, ["import-idx", "--images", str(tmp_path / "img.gz"), "--labels",
                                      str(tmp_path / "lbl"), "--out", str(tmp_path / "out" / "train"), "--limit", "4"])
    assert result.exit_code == 0 and "4 images written" in result.output
    folder = ImageFolder(str(tmp_path / "out" / "train"))
    assert folder.classes == ["0", "1", "3"] and len(folder) == 4
    image, label = folder[0]
    assert folder.classes[label] == "0" and np.array_equal(np.asarray(image.convert("L")), images[3])


def test_a_truncated_idx_file_is_a_user_error(tmp_path):
    (tmp_path / "bad").write_bytes(idx(np.zeros((4, 2, 2)))[:-3])
    with pytest.raises(UserError, match="header declares"):
        read_idx(tmp_path / "bad")
