from fdsl_train.dist import Ranks, ranks_from_env


def test_launcher_variables_map_to_ranks():
    assert ranks_from_env({}) == Ranks(0, 1, 0)
    assert ranks_from_env({"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1"}) == Ranks(3, 8, 1)
    assert ranks_from_env({"SLURM_PROCID": "5", "SLURM_NTASKS": "6", "SLURM_LOCALID": "2"}) == Ranks(5, 6, 2)
    ompi = {"OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_LOCAL_RANK": "1"}
    assert ranks_from_env(ompi) == Ranks(1, 2, 1)


def test_torchrun_wins_inside_a_slurm_job():
    env = {"SLURM_PROCID": "0", "SLURM_NTASKS": "1", "RANK": "2", "WORLD_SIZE": "4", "LOCAL_RANK": "2"}
    assert ranks_from_env(env) == Ranks(2, 4, 2)
    assert not ranks_from_env(env).is_main and Ranks().is_main
