from fdsl_gen.recipes import fractaldb  # noqa: F401  (registers)
from fdsl_gen.recipes import ofdb, onepfrac, real1p  # noqa: F401  (register 1p-frac, OFDB, single real image)
from fdsl_gen.recipes import exfractaldb  # noqa: F401  (registers exfractaldb, mvfractaldb and their search)
from fdsl_gen.recipes import rcdb, visualatom  # noqa: F401  (register RCDB and VisualAtom)
