"""Parameter I/O: IFS parameter files in the official FractalDB CSV format, weight tables, RCDB categories.

One file per category, `%05d.csv`, no header, one row a,b,c,d,e,f,p per map,
values written with `%.18e` so that they read back bit for bit. An RCDB
category file is the official make_rcdb.py's `param/%05d.csv`: rows key,value.
"""
import csv
import io
import math
import os
import re
from pathlib import Path

import numpy as np

from fdsl_gen.configs import MAX_POINTS
from fdsl_gen.errors import UserError

_OFFICIAL_SUBDIR = re.compile(r"csv\d+$")
# Far beyond any searched system (coefficients in [-1, 1], weights up to 2): a larger value is a mistake.
MAX_PARAMETER = 1e3


def write_system(path, system):
    """Write one category atomically (temporary name, then rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    np.savetxt(tmp, system, delimiter=",", fmt="%.18e")
    os.replace(tmp, path)


def stored_category_options(options, folder):
    """IFS options that read a written dataset's categories (searched or given) and weight file, if
    any, from the `params/` it stores: `%05d.csv` per category and `weights.csv`."""
    stored = Path(folder) / "params"
    options = dict(options, params=str(stored), search=False)
    if options.get("weights"):
        options["weights"] = str(stored / "weights.csv")
    return options


def read_table(path, columns, what):
    """Read a comma-separated table of finite floats with `columns` columns."""
    path = Path(path)
    rows = [line for line in _read_text(path, what).splitlines() if line.strip()]
    if not rows:
        raise UserError(f"{what} {path} is empty")
    table = []
    for number, line in enumerate(rows, 1):
        cells = line.split(",")
        if len(cells) != columns:
            raise UserError(f"{what} {path}, line {number}: {len(cells)} columns, expected {columns}")
        try:
            table.append([float(cell) for cell in cells])
        except ValueError:
            raise UserError(f"{what} {path}, line {number}: not a number: {line.strip()!r}") from None
    table = np.array(table, dtype=np.float64)
    if not np.isfinite(table).all():
        raise UserError(f"{what} {path} holds NaN or infinite values")
    if np.abs(table).max() > MAX_PARAMETER:
        raise UserError(f"{what} {path} holds values beyond +-{MAX_PARAMETER:g} (formula parameters lie near "
                        "[-1, 1]); such a system renders blank or overflows")
    zero = np.flatnonzero(~table.any(axis=1))
    if zero.size:
        raise UserError(f"{what} {path}, row {zero[0] + 1}: all zeros")
    return table


def _read_text(path, what):
    try:
        return path.read_text()
    except OSError as err:
        raise UserError(f"cannot read {what} {path}: {err.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{what} {path} is not a text file") from None


def read_system(path, columns=7):
    """One category: an (N, columns) array whose last column, p, is >= 0 with a positive sum."""
    system = read_table(path, columns, "parameter file")
    if (system[:, -1] < 0).any() or system[:, -1].sum() <= 0:
        raise UserError(f"parameter file {path}: probabilities (column {columns}) must be >= 0 with a positive sum")
    if not system[:, :-1].any():
        raise UserError(f"parameter file {path}: every map is zero, so the system collapses to one point")
    return system


def category_files(folder):
    """The category CSVs of a folder, in category order.

    Accepts a flat folder of CSVs or the official layout of csv0..csvK
    sub-folders; categories are ordered by file name, as the reference does.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"parameter folder {folder} does not exist")
    files = list(folder.glob("*.csv"))
    for sub in folder.iterdir():
        if sub.is_dir() and _OFFICIAL_SUBDIR.match(sub.name):
            files.extend(sub.glob("*.csv"))
    if not files:
        raise UserError(f"parameter folder {folder} holds no .csv files")
    names = [f.name for f in files]
    if len(set(names)) != len(names):
        raise UserError(f"parameter folder {folder} holds the same file name twice")
    return sorted(files, key=lambda f: f.name)


def first_category_files(folder, limit=0):
    """The first `limit` category files of a folder (all when limit is 0)."""
    files = category_files(folder)
    if limit > len(files):
        raise UserError(f"categories {limit} asks for more than the {len(files)} category files in {folder}: "
                        f"set it to {len(files)} or fewer", options="categories")
    return files[:limit] if limit else files


def read_systems(folder, limit=0, columns=7):
    """The first `limit` categories of a folder (all when limit is 0)."""
    return read_named_systems(folder, limit, columns)[0]


def read_named_systems(folder, limit=0, columns=7):
    """(systems, file names) of the first `limit` categories of a folder (all when limit is 0)."""
    files = first_category_files(folder, limit)
    return [read_system(f, columns) for f in files], [f.name for f in files]


def weight_rows(k):
    """The 25 official weight rows for step k: a..f scaled by 1 +- k, 1 +- 2k.

    Factors are rounded to 12 decimals so that k = 0.4 gives the official
    file's 0.2, 0.6, 1.4, 1.8 exactly.
    """
    low2, low1, high1, high2 = (round(1 + m * k, 12) for m in (-2, -1, 1, 2))
    rows = [[f, 1, 1, 1, 1, 1] for f in (low2, low1, 1.0, high1, high2)]
    for column in range(1, 6):
        for factor in (low2, low1, high1, high2):
            row = [1.0] * 6
            row[column] = factor
            rows.append(row)
    return np.array(rows, dtype=np.float64)


def read_weights(path, columns=6):
    """A weight table: one row of factors per variant (6 columns for 2D systems, 12 for 3D)."""
    return read_table(path, columns, "weight file")


def csv_bytes(table, fmt="%.18e"):
    """A table as the CSV bytes stored beside the shards (`%.18e` reads back bit for bit)."""
    buffer = io.BytesIO()
    np.savetxt(buffer, table, delimiter=",", fmt=fmt)
    return buffer.getvalue()


# The official RCDB file's keys, in its row order, and the category parameter each names; the other
# keys hold the reference's instance 0 (start radius, oval, centre), which it draws again per image.
RCDB_KEYS = {"Vertex": "vertices", "Perlin_noise": "c", "line_width": "w", "Center_rad": None, "Line_num": "polygons",
             "Oval_rate_x": None, "Oval_rate_y": None, "start_pos_h": None, "start_pos_w": None}


def read_rcdb_category(path):
    """One RCDB category of an official parameter file: {vertices, polygons, c, w}.

    Every key is known and given once with a finite value; the instance-0 keys may be left out.
    """
    path = Path(path)
    values, lines = _rcdb_rows(path)
    missing = [key for key, name in RCDB_KEYS.items() if name and key not in values]
    if missing:
        raise UserError(f"RCDB parameter file {path} has no {missing[0]} row")
    for key, least in (("Vertex", 3), ("Line_num", 1)):
        if not values[key].is_integer() or not least <= values[key] <= MAX_POINTS:
            raise UserError(f"RCDB parameter file {path}, line {lines[key]}: {key} must be a whole number in "
                            f"[{least}, {MAX_POINTS}], not {values[key]:g}")
    if values["Perlin_noise"] < 0:
        raise UserError(f"RCDB parameter file {path}, line {lines['Perlin_noise']}: Perlin_noise must be at "
                        f"least 0, not {values['Perlin_noise']:g}")
    return {"vertices": int(values["Vertex"]), "polygons": int(values["Line_num"]),
            "c": values["Perlin_noise"], "w": values["line_width"]}


def _rcdb_rows(path):
    """({key: float value}, {key: line number}) of an RCDB parameter file."""
    reader = csv.reader(io.StringIO(_read_text(path, "RCDB parameter file")))
    values, lines = {}, {}
    try:
        for row in reader:
            where = f"RCDB parameter file {path}, line {reader.line_num}"
            if not row:
                continue
            if len(row) != 2:
                raise UserError(f"{where}: expected key,value, not {','.join(row)!r}")
            key, cell = row
            if key not in RCDB_KEYS:
                raise UserError(f"{where}: unknown key {key!r} (known: {', '.join(RCDB_KEYS)})")
            if key in values:
                raise UserError(f"{where}: {key} given twice (first on line {lines[key]})")
            try:
                values[key] = float(cell)
            except ValueError:
                raise UserError(f"{where}: {key} is not a number: {cell!r}") from None
            if not math.isfinite(values[key]):
                raise UserError(f"{where}: {key} must be a finite number, not {cell}")
            lines[key] = reader.line_num
    except csv.Error as err:
        raise UserError(f"RCDB parameter file {path}, line {reader.line_num}: not CSV ({err})") from None
    return values, lines


def rcdb_category_bytes(params):
    """A category's parameters as the official file writes them (csv rows key,value; floats read back bit for bit)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for key, name in RCDB_KEYS.items():
        if name:
            writer.writerow([key, params[name]])
    return buffer.getvalue().encode()
