"""How clients other than fdsl read a dataset from an object store: its shards' URLs, signed or not, and the
dataset card's recipes for Hugging Face `datasets`, webdataset and timm.

fdsl-gen and fdsl-train read `s3://` themselves. The other clients do not, as of the versions in TESTED:
`datasets` cannot stream `s3://` (it passes `block_size` to s3fs, which hands it on to aiobotocore's
session, which refuses it) and loads no remote folder through its card's `configs`; webdataset's `gopen`
has no `s3://` handler, and timm's `wds/` reader opens `_info.json` through that `gopen`. All of them read
https, so the recipes give them signed URLs of the shards (`fdsl-gen urls LOCATION --presign SECONDS`).
"""
from fdsl_gen.contract import MANIFEST, TIMM_INFO, split
from fdsl_gen.errors import UserError
from fdsl_gen.storage import Location, open_store

TESTED = "datasets 5.2.0 with s3fs 2026.7.0, webdataset 1.0.2, timm 1.0.31"
URLS_FILE = "{split}-urls.txt"  # where the card's recipes keep a split's signed URLs
MAX_SIGNED_SECONDS = 7 * 24 * 3600  # the longest an S3 signature (SigV4) stays valid


def shard_urls(location, split_name="train", presign=None):
    """The URL (a folder's: path) of every shard of a split of the dataset at `location`, in order; signed
    for `presign` seconds when given, which needs an object store."""
    from fdsl_gen.lifecycle import load_manifest  # the lifecycle writes the card, which imports this module
    where = Location.parse(location)
    if presign is not None and not where.is_object_store:
        raise UserError(f"presign signs the URLs of an object store (s3://BUCKET/PREFIX), not of {where}",
                        options="presign")
    store = open_store(where)
    manifest = load_manifest(store)
    files = [shard["file"] for shard in split(manifest["splits"], split_name, f"{store}/{MANIFEST}")["shards"]]
    if presign is None:
        return [f"{store}/{file}" for file in files]
    return [store.sign(file, presign) for file in files]


def object_store_section(manifest, mode):
    """The card's section (Markdown) on reading the dataset from an object store with other clients; `mode`:
    the PIL mode its images read as."""
    name, splits = manifest["name"], manifest["splits"]
    url_lines = "\n".join(f'fdsl-gen urls "$DATA" --split {s} --presign 3600 > {URLS_FILE.format(split=s)}'
                          for s in splits)
    train_urls = URLS_FILE.format(split="train")
    return f"""## Read from an object store

`fdsl-train --data s3://BUCKET/PREFIX` and `fdsl-gen verify s3://BUCKET/PREFIX` read a copy of this folder
in an object store directly (`fdsl-gen publish . s3://BUCKET/PREFIX` makes one). Other clients read it
through signed https URLs of its shards, because their own `s3://` support falls short
({TESTED}): `datasets` cannot stream `s3://` (s3fs refuses the `block_size` that `datasets` passes it) and loads no
remote folder through the `configs` above; webdataset has no `s3://` handler in its `gopen`; timm's `wds/`
reader opens `{TIMM_INFO}` through that same `gopen`.

With `DATA` set to the copy's URL (`export DATA=s3://BUCKET/PREFIX`; credentials and endpoint from the usual
AWS variables), write each split's signed shard URLs. They stay valid for the seconds given: sign for as
long as a run reads them ({MAX_SIGNED_SECONDS} at most).

```bash
{url_lines}
```

Hugging Face `datasets`: stream the signed URLs, or download the shards whole from `s3://` (only streaming
fails). The card's features are not read from `s3://`: cast `png` to `Image(mode="{mode}")` for pixel
values rather than palette indices; `cls` is the index into `class_names`.

```python
import os
from datasets import Image, load_dataset
png = Image(mode="{mode}")
urls = open("{train_urls}").read().split()
stream = load_dataset("webdataset", data_files={{"train": urls}}, split="train", streaming=True).cast_column("png", png)
shards = os.environ["DATA"] + "/{name}-train-*.tar"
ds = load_dataset("webdataset", data_files={{"train": shards}}, split="train").cast_column("png", png)
```

webdataset (its `gopen` reads https through `curl`, and so does timm's `wds/`):

```python
import webdataset as wds
urls = open("{train_urls}").read().split()
train = wds.WebDataset(urls, shardshuffle=False).decode("pil").to_tuple("png", "cls")
```

timm (with no `{TIMM_INFO}` to read, its `wds/` reader takes a split as shard URLs joined by `::` and,
after `|`, their sample count):

```python
from timm.data import create_dataset
urls = open("{train_urls}").read().split()
train = create_dataset("wds/{name}", root="", split="::".join(urls) + "|{splits['train']['num_samples']}")
```
"""
