import pytest

from helpers import assert_one_line_error

BAD_CSV = {
    "columns": "0.5,0.1,0.2,0.3,0.1,0.2\n",
    "nan": "0.5,0.1,0.2,nan,0.1,0.2,1.0\n",
    "text": "0.5,zero,0.2,0.3,0.1,0.2,1.0\n",
    "empty": "",
    "probabilities": "0.5,0.1,0.2,0.3,0.1,0.2,-1.0\n",
}


@pytest.mark.parametrize("kind", sorted(BAD_CSV))
def test_malformed_parameter_file(tmp_path, cli, kind):
    params = tmp_path / "params"
    params.mkdir()
    (params / "00000.csv").write_text(BAD_CSV[kind])
    out = tmp_path / "out"
    result = cli("render", "fractaldb", "--params", params, "--out", out, "--quiet")
    assert_one_line_error(result, "00000.csv")
    assert not (out / "manifest.json").exists()


def test_missing_parameter_folder(tmp_path, cli):
    assert_one_line_error(cli("render", "fractaldb", "--params", tmp_path / "nope", "--quiet"), "does not exist")


def test_params_and_search_together(tmp_path, cli, params_dir):
    assert_one_line_error(cli("render", "fractaldb", "--params", params_dir, "--search", "--quiet"), "--search")


@pytest.mark.parametrize("option,value", [("--size", -5), ("--points", 0), ("--categories", -1)])
def test_negative_sizes(tmp_path, cli, params_dir, option, value):
    result = cli("render", "fractaldb", "--params", params_dir, option, value, "--out", tmp_path / "o", "--quiet")
    assert_one_line_error(result, option)


def test_more_categories_than_files(tmp_path, cli, params_dir):
    result = cli("render", "fractaldb", "--params", params_dir, "--categories", 99, "--out", tmp_path / "o")
    assert_one_line_error(result, "99")


def test_output_folder_with_another_dataset(tmp_path, cli, params_dir, small_dataset):
    import shutil
    copy = tmp_path / "copy"
    shutil.copytree(small_dataset, copy)
    before = sorted(p.name for p in copy.iterdir())
    result = cli("render", "fractaldb", "--params", params_dir, "--out", copy, "--size", 40, "--quiet")
    assert_one_line_error(result, "another dataset")
    assert sorted(p.name for p in copy.iterdir()) == before


def test_output_folder_with_foreign_files(tmp_path, cli, params_dir):
    (tmp_path / "notes.txt").write_text("mine")
    result = cli("render", "fractaldb", "--params", params_dir, "--out", tmp_path, "--quiet")
    assert_one_line_error(result, "not empty")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_unwritable_output(cli, params_dir):
    # /proc refuses new folders even to root.
    result = cli("render", "fractaldb", "--params", params_dir, "--out", "/proc/fdsl/ds", "--quiet")
    assert_one_line_error(result, "cannot create output folder")


def test_output_path_under_a_file(tmp_path, cli, params_dir):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = cli("render", "fractaldb", "--params", params_dir, "--out", blocker / "ds", "--quiet")
    assert_one_line_error(result, "cannot create output folder")


def test_verify_and_info_on_a_non_dataset(tmp_path, cli):
    assert_one_line_error(cli("verify", tmp_path), "manifest.json")
    assert_one_line_error(cli("info", tmp_path / "missing"), "not a folder")


def test_search_refuses_a_folder_of_another_search(tmp_path, cli):
    assert cli("search", "fractaldb", "--categories", 1, "--out", tmp_path, "--quiet").exit_code == 0
    result = cli("search", "fractaldb", "--categories", 1, "--seed", 2, "--out", tmp_path, "--quiet")
    assert_one_line_error(result, "another search")


def test_unknown_recipe_is_a_usage_error(cli):
    result = cli("render", "nosuchdb")
    assert result.exit_code == 2 and "nosuchdb" in result.stderr
