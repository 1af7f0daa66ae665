"""bench/split.py: the stages are timed inside a real render and the pipeline is left as it was."""
import hashlib
import sys
from pathlib import Path

import fdsl_gen.pipeline
import fdsl_gen.renderer
import fdsl_gen.shardwriter
from fdsl_gen.recipes.bezier import BezierCurves
from fdsl_gen.recipes.rcdb import RCDB

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import split  # noqa: E402


def pipeline_functions():
    return (fdsl_gen.renderer.encode_png, fdsl_gen.shardwriter.tar_blocks, hashlib.sha256,
            fdsl_gen.pipeline.create_recipe, BezierCurves.render_group)


def test_a_render_spends_time_in_every_stage_and_no_more_than_in_all(tmp_path):
    spent, stages, images = split.render("rcdb", {"categories": 2, "instances": 3, "size": 64, "min_ink": 0}, tmp_path)
    assert images == 6
    assert set(stages) == set(split.STAGES)
    assert all(seconds > 0 for seconds in stages.values())
    assert sum(stages.values()) <= spent


def test_the_stage_functions_are_the_pipelines_own_again_afterwards(tmp_path):
    before = pipeline_functions()
    split.render("bezier", {"categories": 2, "instances": 2, "size": 32}, tmp_path)
    split.render("rcdb", {"categories": 1, "instances": 1, "size": 32, "min_ink": 0}, tmp_path)
    assert pipeline_functions() == before
    assert "render_group" not in vars(RCDB)  # inherited before, inherited again
