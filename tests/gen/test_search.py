import json

import numpy as np
import pytest

from reference import fractaldb as ref
from fdsl_gen.formulas.ifs_search import draw_trial, search

# Published FractalDB-1k parameter files (official seed-1 search), verbatim.
PUBLISHED_00000 = """\
1.724223243171234543e-01,-7.311756060787280020e-01,-2.966728035091932281e-01,-2.777660563660040438e-01,6.115739281576646480e-01,-2.019335022650967648e-01,1.414134307013419356e-01
-8.583735610481224576e-02,-8.433762024767534893e-01,-1.914439158840750554e-01,6.115559153715470764e-01,4.009955062511278978e-01,4.643911401924800675e-01,1.142538778724129234e-01
-9.665240573106153033e-01,8.803925216502284101e-02,7.654360019967436646e-01,5.156383970885065615e-01,8.147617620237412872e-02,7.518914152263203032e-01,3.021257278333024376e-01
-6.303750398147720535e-01,3.247544574309448873e-01,-7.013752411711078327e-01,-8.967908458619968659e-01,-5.346410910546133266e-01,7.107352504421564632e-01,4.235195585540745822e-01
-5.797108324242954414e-01,-2.311754517786339669e-01,4.521610635677510981e-01,2.406766531975532697e-01,-1.300896372526509914e-01,8.479989530155638278e-01,1.868740503886824611e-02
"""
PUBLISHED_00001 = """\
-1.668389423696419183e-01,-6.072550667959302206e-01,1.728251339013286980e-02,2.048852284657074474e-01,2.111859836446616789e-01,5.155499518698667405e-01,2.522042471796301019e-02
-4.159289551462135304e-01,4.190396330592851548e-01,-3.485170920810727324e-01,-2.672146735447999966e-01,2.877306516523376878e-01,-2.116667333885886570e-01,2.738232818170721061e-01
9.038574880708072357e-02,-8.118400125885090191e-01,-7.785972314428670771e-01,-2.906130900075152290e-01,-5.889521589065931373e-01,-2.652835207608081891e-01,7.009562934649647969e-01
"""
PUBLISHED_00024 = """\
9.738416474112414623e-01,-7.406430582995553458e-01,9.282521794379336999e-01,2.601298339316235886e-01,-7.311507716562202219e-01,3.588776106512423514e-01,6.860211800480201516e-01
-5.215755833550701492e-01,9.593495630399466734e-01,-5.135473087047308649e-01,1.190085907385776132e-01,-6.790178702000868594e-01,-9.582096411114988666e-01,3.139788199519798484e-01
"""


@pytest.fixture(scope="module")
def official_25(tmp_path_factory):
    from fdsl_gen.cli import main
    from click.testing import CliRunner
    out = tmp_path_factory.mktemp("search")
    result = CliRunner().invoke(main, ["search", "fractaldb", "--categories", "25", "--out", str(out),
                                       "--workers", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("index,text", [(0, PUBLISHED_00000), (1, PUBLISHED_00001), (24, PUBLISHED_00024)])
def test_search_reproduces_published_files_byte_for_byte(official_25, index, text):
    assert (official_25 / f"{index:05d}.csv").read_text() == text


def test_search_json_records_the_run(official_25):
    record = json.loads((official_25 / "search.json").read_text())
    assert record["seed"] == 1 and record["config"]["categories"] == 25
    assert len(record["fill_rates"]) == 25 and min(record["fill_rates"]) >= 0.2
    assert record["accept_rate"] == pytest.approx(25 / record["trials"])
    assert len(list(official_25.glob("*.csv"))) == 25


def test_first_acceptance_happens_at_trial_24():
    found, trials = search(1)
    assert trials == 24 and found[0][1] >= 0.2


def test_result_does_not_depend_on_thread_count():
    one, trials_one = search(6, seed=3, threads=1)
    three, trials_three = search(6, seed=3, threads=3)
    assert trials_one == trials_three
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(one, three))


def test_accept_decisions_match_reference_trials():
    rs = np.random.RandomState(1)
    decisions = []
    for _ in range(24):
        system, u = draw_trial(rs, 100_000)
        decisions.append(ref.search_fill(system, u) >= 0.2)
    assert decisions == [False] * 23 + [True]
