"""Every recipe and search, by name: its options (a config in fdsl_gen/configs.py) and the class
that renders it, imported only when one is built. Adding a recipe is one line here."""
from fdsl_gen import configs
from fdsl_gen.registry import register

register("recipe", "fractaldb", configs.FractalDBConfig, "fdsl_gen.recipes.fractaldb:FractalDB")
register("recipe", "ofdb", configs.OFDBConfig, "fdsl_gen.recipes.ofdb:OFDB")
register("recipe", "1p-frac", configs.OnePFracConfig, "fdsl_gen.recipes.onepfrac:OnePFrac")
register("recipe", "real1p", configs.Real1PConfig, "fdsl_gen.recipes.real1p:Real1P")
register("recipe", "exfractaldb", configs.ExFractalDBConfig, "fdsl_gen.recipes.exfractaldb:ExFractalDB")
register("recipe", "mvfractaldb", configs.MVFractalDBConfig, "fdsl_gen.recipes.mvfractaldb:MVFractalDB")
register("recipe", "rcdb", configs.RCDBConfig, "fdsl_gen.recipes.rcdb:RCDB")
register("recipe", "visualatom", configs.VisualAtomConfig, "fdsl_gen.recipes.visualatom:VisualAtom")
register("recipe", "perlin", configs.PerlinConfig, "fdsl_gen.recipes.perlin:PerlinNoise")
register("recipe", "bezier", configs.BezierConfig, "fdsl_gen.recipes.bezier:BezierCurves")

register("search", "fractaldb", configs.FractalDBSearchConfig, "fdsl_gen.searches:FractalDBSearch")
register("search", "exfractaldb", configs.ExFractalDBSearchConfig, "fdsl_gen.searches:ExFractalDBSearch")
