"""The shard contract: a dataset's file names, its manifest's versions and shape, and where a split lives.

Every writer and reader takes this knowledge from here: the lifecycle that
writes a dataset, verify/info/preview/publish, live rendering, the dataset
card and fdsl_train. It is light (no numpy, no storage back-end) so that any
reader can import it. The policy of versions, also in shards/README.md:

- writers write FORMAT_VERSION (2);
- readers of the shards (verify, info, preview, publish, fdsl-train) read
  READABLE (1 and 2), the old split name `val` standing for `validation`;
- live rendering reads LIVE_READABLE (2 only): it renders what this fdsl
  writes, and a format 1 dataset is read from its shards instead.
"""
import json

from fdsl_gen.errors import UserError

FORMAT = "fdsl-shards"
FORMAT_VERSION = 2
READABLE = (1, 2)
LIVE_READABLE = (FORMAT_VERSION,)
MANIFEST = "manifest.json"
CHECKSUMS = "SHA256SUMS"
TIMM_INFO = "_info.json"
WIDS_INDEX = "{split}.wids.json"  # wids' shard index of one split, its URLs relative to itself
CARD = "README.md"
PREVIEW = "preview.png"
PARAMS = "params"  # the folder of the parameter files a recipe stores beside its shards
LIVE = "live:"  # a source rendered on demand: live:FOLDER, live:URL or live:RECIPE?OPTIONS
# Format 1 datasets (and many ImageFolder trees) call the validation split `val`.
OLD_SPLIT_NAMES = {"validation": "val"}


def load_manifest(store, readable=READABLE):
    """The checked manifest of the complete dataset in `store` (a fdsl_gen.storage Store)."""
    return check(read_manifest(store), f"{store}/{MANIFEST}", readable)


def read_manifest(store):
    """The parsed manifest.json in `store`, not yet checked; one line when it is absent or not JSON."""
    data = store.get(MANIFEST)
    if data is None:
        raise UserError(f"{store} holds no {MANIFEST}: not a finished fdsl dataset")
    return parse(data, f"{store}/{MANIFEST}")


def parse(data, where):
    """The JSON document `data` read from `where`; one line when it is not JSON."""
    try:
        return json.loads(data)
    except ValueError:
        raise UserError(f"{where} is not valid JSON") from None


def check(manifest, where, readable=READABLE):
    """The manifest when it is one of the `readable` versions with the shape every reader relies on;
    else one line naming what is wrong."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise UserError(f"{where} is not an fdsl manifest")
    version = manifest.get("format_version", 1)
    if type(version) is not int or version < 1:  # JSON true is no version
        raise UserError(f"{where} is malformed: format_version must be a whole number, 1 or more, "
                        f"not {version!r}")
    if version not in readable:
        raise UserError(_version_refusal(where, version, readable))
    problem = _problem(manifest)
    if problem:
        raise UserError(f"{where} is malformed: {problem}")
    declared_classes(manifest, where)
    return manifest


def _version_refusal(where, version, readable):
    versions = ", ".join(map(str, readable))
    if version > max(readable):
        return f"{where}: format_version {version} is newer than this fdsl reads ({versions}); upgrade fdsl"
    return (f"{where}: format_version {version}; this reads format {versions} only "
            "(render the dataset again, or read its shards)")


def _problem(manifest):
    for key, kind in (("name", str), ("num_classes", int), ("splits", dict), ("image", dict), ("config", dict)):
        if not isinstance(manifest.get(key), kind):
            return f"'{key}' missing or not {kind.__name__}"
    for name, info in manifest["splits"].items():
        if not isinstance(info, dict) or not isinstance(info.get("shards"), list) \
                or not isinstance(info.get("num_samples"), int):
            return f"split {name!r} lacks its shards or num_samples"
        for shard in info["shards"]:
            if not isinstance(shard, dict) or not all(k in shard for k in ("file", "samples", "bytes", "sha256")):
                return f"a shard of split {name!r} lacks file, samples, bytes or sha256"
            if not isinstance(shard["file"], str) or "/" in shard["file"] or shard["file"].startswith("."):
                return f"shard file {shard['file']!r} is not a file name inside the dataset"
    return None


def declared_classes(description, where):
    """The class count a manifest.json or _info.json (at `where`) declares, None when it declares none.

    Its num_classes must be a whole number, and agree with its class_names where it lists them.
    """
    count, names = description.get("num_classes"), description.get("class_names")
    if count is not None and (type(count) is not int or count < 1):
        raise UserError(f"{where}: num_classes {json.dumps(count)} must be a whole number, 1 or more")
    if names is None:
        return count
    if not isinstance(names, list):
        raise UserError(f"{where}: class_names must be a list of names")
    if count is not None and len(names) != count:
        raise UserError(f"{where} lists {len(names)} class_names but says num_classes {count}: "
                        "the two must agree")
    return len(names)


def split_name(name, present):
    """`name`, or its format 1 name when only that one is present among the split names `present`."""
    old = OLD_SPLIT_NAMES.get(name)
    return old if name not in present and old in present else name


def split(splits, name, where):
    """The entry of split `name` (or its format 1 name) in a manifest's or _info.json's `splits`."""
    name = split_name(name, splits)
    if name not in splits:
        raise UserError(f"{where} has no '{name}' split (it has: {', '.join(sorted(splits)) or 'none'})")
    return splits[name]
