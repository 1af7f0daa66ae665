"""Every recipe and search, by name: its options (the name of a config in fdsl_gen.configs) and the
class that renders it, each imported when first used. Adding a recipe is one line here."""
from fdsl_gen.registry import register

register("recipe", "fractaldb", "FractalDBConfig", "fdsl_gen.recipes.fractaldb:FractalDB")
register("recipe", "ofdb", "OFDBConfig", "fdsl_gen.recipes.ofdb:OFDB")
register("recipe", "1p-frac", "OnePFracConfig", "fdsl_gen.recipes.onepfrac:OnePFrac")
register("recipe", "real1p", "Real1PConfig", "fdsl_gen.recipes.real1p:Real1P")
register("recipe", "exfractaldb", "ExFractalDBConfig", "fdsl_gen.recipes.exfractaldb:ExFractalDB")
register("recipe", "mvfractaldb", "MVFractalDBConfig", "fdsl_gen.recipes.mvfractaldb:MVFractalDB")
register("recipe", "rcdb", "RCDBConfig", "fdsl_gen.recipes.rcdb:RCDB")
register("recipe", "visualatom", "VisualAtomConfig", "fdsl_gen.recipes.visualatom:VisualAtom")
register("recipe", "perlin", "PerlinConfig", "fdsl_gen.recipes.perlin:PerlinNoise")
register("recipe", "bezier", "BezierConfig", "fdsl_gen.recipes.bezier:BezierCurves")

register("search", "fractaldb", "FractalDBSearchConfig", "fdsl_gen.searches:FractalDBSearch")
register("search", "exfractaldb", "ExFractalDBSearchConfig", "fdsl_gen.searches:ExFractalDBSearch")
