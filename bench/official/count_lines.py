"""Run an official contour script unchanged and print how many line segments it drew: `line segments: N`.

    bench/official/build/venv/bin/python bench/official/count_lines.py SCRIPT [its arguments]

Why a wrapper: RCDB and VisualAtom draw every segment with one
`ImageDraw.line` call, and the number of segments per image varies a
hundredfold between categories, so a per-image time over a few categories
says little; per segment it does. This wrapper counts those calls. The
count is taken in a run of its own, never in a timed one (the counter costs
a Python call per segment): the scripts seed `random` with their thread
number, so the same arguments draw the same segments.
"""
import runpy
import sys

from PIL import ImageDraw


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: count_lines.py SCRIPT [its arguments]")
    line, calls = ImageDraw.ImageDraw.line, []

    def counted(self, *args, **kwargs):
        calls.append(1)
        return line(self, *args, **kwargs)

    ImageDraw.ImageDraw.line = counted
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
    print(f"line segments: {len(calls)}", file=sys.stderr)


if __name__ == "__main__":
    main()
