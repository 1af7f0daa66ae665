"""The renderer: one shard's samples, drawn by the recipe in the plan's order and encoded as PNG."""
from fdsl_gen.encode import encode_png


def shard_images(recipe, plan, split, index):
    """[(key, uint8 image, meta)] of one shard, in written order (meta is the sample's json)."""
    return _written_order(plan, split, index, _drawn(recipe, plan, split, index, lambda image: image))


def render_shard(recipe, plan, split, index):
    """[(key, png bytes, meta)] of one shard, in written order.

    Each image is encoded as soon as its group is drawn, not once the whole
    shard is: a shard's raw images (262 MB for 1000 grey ones of 512 px) are
    never held at once, and a worker's first shard does not fault in that
    much fresh memory (0.6 s of system time for 262 MB on a loaded VM).
    """
    return _written_order(plan, split, index, _drawn(
        recipe, plan, split, index, lambda image: encode_png(image, recipe.levels, recipe.smooth)))


def _drawn(recipe, plan, split, index, finish):
    """[(finish(image), meta)] of one shard's samples, in the order they are drawn."""
    drawn = []
    for piece in plan.pieces(split, index):
        group = recipe.render_group(piece.cls, piece.group)
        for image, meta in group[piece.lo:piece.hi]:
            drawn.append((finish(image), dict(meta, cls=piece.cls)))
    return drawn


def _written_order(plan, split, index, drawn):
    """[(key, item, meta)] of the `drawn` samples of one shard, in the shuffled order they are written."""
    start = plan.first_position(split) + plan.shard_range(split, index)[0]
    order = plan.shard_order(split, index)
    return [(f"{start + k:09d}", *drawn[j]) for k, j in enumerate(order)]
