"""Deflate back-ends on every family's PNG rows: CPU ms per image and KB per image, every output round-tripped.

    .venv/bin/python bench/encoders.py [--rounds 3] [--repeat 5] [--unfiltered]
    .venv/bin/python bench/encoders.py --save-rows ROWS
    python3 bench/encoders.py --digests ROWS

Draws a few images of every registered recipe at its official size (the
live renderer: the images a render would encode), builds each image's
scanlines as fdsl_gen.encode does (1-bit or 2/4/8-bit palette, 8-bit grey
or RGB rows; filter none, or Up for a smooth grey field; `--unfiltered`:
filter none for every image), and deflates them with each back-end at each
level: the standard library's zlib, libdeflate (`deflate`), ISA-L (`isal`)
and zlib-ng (`zlib-ng`, also with its run-length and Huffman-only
strategies). A figure is the CPU time of deflating every image of a family
`--repeat` times, per image, as the median of `--rounds` interleaved
rounds. Every output must decompress (standard zlib) to its input. The
back-ends fdsl does not depend on are skipped with a line when not
installed (`pip install isal deflate`).

Byte identity across CPUs: `--save-rows` stores those scanlines in a file;
`--digests` deflates them with every back-end and level and prints one
sha256 per back-end and level. It needs only the back-ends' wheels, no fdsl,
numpy or numba, so that it runs on another machine or under an emulated CPU
(`qemu-x86_64 -cpu Nehalem python3 ...`, `qemu-aarch64 ...`).
"""
import argparse
import hashlib
import importlib
import pickle
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import check_rounds, interleaved, load_line, median, timed  # noqa: E402

PHOTO = "{skimage_data}/camera.png"
# A few images of each recipe at its default (official) size; the option sets of fractaldb are both drawings.
FAMILIES = {
    "fractaldb": "fractaldb?search&categories=4&instances=3",
    "fractaldb colour": "fractaldb?search&categories=3&instances=2&color=color&draw=point",
    "ofdb": "ofdb?search&categories=12",
    "1p-frac": "1p-frac?classes=12",
    "real1p": f"real1p?image={PHOTO}&classes=12",
    "exfractaldb": "exfractaldb?search&categories=2&instances=6",
    "mvfractaldb": "mvfractaldb?search&categories=1&instances=12",
    "rcdb": "rcdb?categories=4&instances=3",
    "visualatom": "visualatom?categories=4&instances=3",
    "perlin": "perlin?categories=4&instances=3",
    "bezier": "bezier?categories=4&instances=3",
}
# (back-end, module, compress(data, level), levels)
BACKENDS = [
    ("zlib", "zlib", "compress", (1, 6)),
    ("libdeflate", "deflate", "zlib_compress", (1, 2, 4, 6, 9)),
    ("isal", "isal.isal_zlib", "compress", (0, 1, 2, 3)),
    ("zlib-ng", "zlib_ng.zlib_ng", "compress", (1, 2, 3, 4, 6)),
]
# zlib-ng's strategies at level 1: (label, the module's constant)
STRATEGIES = [("zlib-ng rle", "Z_RLE"), ("zlib-ng huffman", "Z_HUFFMAN_ONLY")]
KINDS = {(1, 3): "1-bit", (2, 3): "2-bit palette", (4, 3): "4-bit palette", (8, 3): "8-bit palette",
         (8, 0): "8-bit grey", (8, 2): "RGB"}


def family_rows(spec, unfiltered=False):
    """(kind of PNG, [raw scanline bytes]) of one family's images."""
    import skimage.data

    from fdsl_gen.encode import scanlines
    from fdsl_gen.live import open_live

    dataset = open_live(spec.format(skimage_data=skimage.data.data_dir))
    images = [image for image, _, _ in dataset.samples()]
    lines = [scanlines(image, dataset.recipe.levels, dataset.recipe.smooth) for image in images]
    kinds = sorted({KINDS[line.bit_depth, line.colour_type] + (" Up" if line.rows[0, 0] else "") for line in lines})
    if unfiltered:
        lines = [line._replace(rows=_unfilter(line.rows, image)) for line, image in zip(lines, images)]
    return "+".join(kinds), [line.rows.tobytes() for line in lines]


def _unfilter(rows, image):
    """Up-filtered rows of an 8-bit grey image as filter none; other rows as they are."""
    if not rows[0, 0]:
        return rows
    plain = rows.copy()
    plain[:, 0] = 0
    plain[:, 1:] = image
    return plain


def contenders():
    """{'back-end level': compress(data)} of every installed back-end."""
    found = {}
    for name, module, function, levels in BACKENDS:
        try:
            compress = getattr(importlib.import_module(module), function)
        except ImportError:
            print(f"{name}: not installed, skipped")
            continue
        for level in levels:
            found[f"{name} {level}"] = lambda data, compress=compress, level=level: compress(data, level)
    if "zlib-ng 1" in found:
        from zlib_ng import zlib_ng
        for label, constant in STRATEGIES:
            found[f"{label} 1"] = lambda data, strategy=getattr(zlib_ng, constant): _zlib_ng(data, strategy)
    return found


def _zlib_ng(data, strategy):
    from zlib_ng import zlib_ng
    stream = zlib_ng.compressobj(1, zlib_ng.DEFLATED, zlib_ng.MAX_WBITS, zlib_ng.DEF_MEM_LEVEL, strategy)
    return stream.compress(data) + stream.flush()


def check_round_trip(compressors, rows):
    for label, compress in compressors.items():
        if any(zlib.decompress(compress(raw)) != raw for raw in rows):
            raise SystemExit(f"encoders: {label} gives a stream that does not decompress to its input")


def measure(compressors, rows, rounds, repeat):
    """{'back-end level': (CPU ms per image, KB per image)}."""
    def work(compress):
        return lambda: timed(lambda: [compress(raw) for _ in range(repeat) for raw in rows])[2]
    seconds = interleaved({label: work(compress) for label, compress in compressors.items()}, rounds)
    return {label: (1000 * median(seconds[label]) / (repeat * len(rows)),
                    sum(len(compress(raw)) for raw in rows) / len(rows) / 1000)
            for label, compress in compressors.items()}


def all_rows(unfiltered=False):
    """{family: (kind of PNG, [raw scanline bytes])} of every family; refuses a registered recipe left out."""
    from fdsl_gen.registry import entries

    missing = sorted(set(entries("recipe")) - {spec.partition("?")[0] for spec in FAMILIES.values()})
    if missing:
        raise SystemExit(f"encoders: no images for recipe {', '.join(missing)}; add it to FAMILIES")
    return {family: family_rows(spec, unfiltered) for family, spec in FAMILIES.items()}


def digests(rows_file):
    """One sha256 per back-end and level over its output for every stored image, each round-tripped."""
    rows = [raw for _, family in sorted(pickle.loads(Path(rows_file).read_bytes()).items()) for raw in family[1]]
    compressors = contenders()
    check_round_trip(compressors, rows)
    for label, compress in compressors.items():
        print(f"{label}: {hashlib.sha256(b''.join(bytes(compress(raw)) for raw in rows)).hexdigest()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5, help="times each image is deflated in one round")
    parser.add_argument("--save-rows", metavar="FILE", help="store every family's scanlines in FILE and stop")
    parser.add_argument("--digests", metavar="FILE", help="one sha256 per back-end and level of FILE's scanlines")
    parser.add_argument("--unfiltered", action="store_true", help="filter none for every image, Up for none")
    args = parser.parse_args()
    if args.digests:
        return digests(args.digests)
    if args.save_rows:
        return Path(args.save_rows).write_bytes(pickle.dumps(all_rows(args.unfiltered)))
    check_rounds(args.rounds)
    families = all_rows(args.unfiltered)
    compressors = contenders()
    print(load_line())
    results = {}
    for family, (kind, rows) in families.items():
        check_round_trip(compressors, rows)
        results[family] = measure(compressors, rows, args.rounds, args.repeat)
        print(f"{family}: {len(rows)} images, {kind}, {sum(map(len, rows)) / len(rows) / 1000:.0f} KB raw", flush=True)
    print(load_line())
    families = list(FAMILIES)
    print("\n| back-end, level | " + " | ".join(families) + " |")
    print("|---" * (len(families) + 1) + "|")
    for label in compressors:
        cells = (f"{results[f][label][0]:.3f} / {results[f][label][1]:.1f}" for f in families)
        print(f"| {label} | " + " | ".join(cells) + " |")
    print("\ncells: CPU ms per image / KB per image (deflated rows, without the few PNG chunk bytes)")


if __name__ == "__main__":
    main()
