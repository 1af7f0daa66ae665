"""The registered parameter searches: categories found at random, written as CSV files."""
from fdsl_gen.configs import ExFractalDBSearchConfig, FractalDBSearchConfig
from fdsl_gen.errors import UserError
from fdsl_gen.formulas.ifs_search import search, search3d
from fdsl_gen.recipe import Search


class FractalDBSearch(Search):
    """The official random search; seed 1 gives the published FractalDB set."""

    name = "fractaldb"
    Config = FractalDBSearchConfig
    score_name = "fill_rates"

    def __init__(self, config, seed):
        super().__init__(config, seed)
        if config.fill_rate == 0:
            raise UserError("fill_rate must be in (0, 1]", options="fill_rate")

    def find(self, threads, on_accept):
        _, trials = search(self.config.categories, seed=self.seed, fill=self.config.fill_rate,
                           points=self.config.points, size=self.config.size,
                           threads=threads, on_accept=on_accept, max_trials=self.config.max_trials)
        return trials


class ExFractalDBSearch(Search):
    """The reference's 3D IFS search: 2..7 maps, p ~ |det|, per-axis variance test."""

    name = "exfractaldb"
    Config = ExFractalDBSearchConfig
    score_name = "variances"

    def find(self, threads, on_accept):
        _, trials = search3d(self.config.categories, self.seed, self.config.variance,
                             self.config.points, threads, on_accept, self.config.max_trials)
        return trials
