"""Progress of long renders: plain lines when stderr is a file, never a bar's carriage returns."""
import io
import re

from fdsl_gen.progress import Lines


def test_a_render_to_a_file_reports_shards_rate_and_eta(cli, params_dir, tmp_path):
    result = cli("render", "fractaldb", "--params", params_dir, "--out", tmp_path / "ds", "--size", 48,
                 "--points", 3000, "--counts", 2, "--weight-k", 0.1, "--samples-per-shard", 64)
    assert result.exit_code == 0, result.output
    assert "\r" not in result.stderr
    last = [line for line in result.stderr.splitlines() if " img, " in line][-1]
    found = re.match(r"\S+: (\d+)/(\d+) img, [\d.e+]+ img/s, ETA 0:00:00, shards (\d+)/(\d+)$", last)
    assert found and found[1] == found[2] and found[3] == found[4], last
    shards = len(list((tmp_path / "ds").glob("*.tar")))
    assert int(found[3]) == shards and shards > 1


def test_plain_lines_come_at_most_every_interval():
    sink = io.StringIO()
    slow = Lines(1000, desc="epoch 0", unit="batch", file=sink, every=3600)
    for _ in range(1000):
        slow.update()
    assert sink.getvalue() == ""
    slow.close()
    slow.close()
    assert sink.getvalue().count("\n") == 1 and sink.getvalue().startswith("epoch 0: 1000/1000 batch, ")

    sink = io.StringIO()
    every = Lines(4, desc="render", unit="img", file=sink, every=0)
    every.set_postfix(shards="1/2")
    every.update(2)
    lines = sink.getvalue().splitlines()
    assert len(lines) == 1 and re.match(r"render: 2/4 img, [\d.e+]+ img/s, ETA \d+:\d\d:\d\d, shards 1/2$", lines[0])
