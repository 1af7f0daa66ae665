"""The renderer: one shard's samples, drawn by the recipe in the plan's order and encoded as PNG."""
from fdsl_gen.encode import encode_png


def shard_images(recipe, plan, split, index):
    """[(key, uint8 image, meta)] of one shard, in written order (meta is the sample's json)."""
    rendered = []
    for piece in plan.pieces(split, index):
        group = recipe.render_group(piece.cls, piece.group)
        for image, meta in group[piece.lo:piece.hi]:
            rendered.append((image, dict(meta, cls=piece.cls)))
    start = plan.first_position(split) + plan.shard_range(split, index)[0]
    order = plan.shard_order(split, index)
    return [(f"{start + k:09d}", *rendered[j]) for k, j in enumerate(order)]


def render_shard(recipe, plan, split, index):
    """[(key, png bytes, meta)] of one shard, in written order."""
    return [(key, encode_png(image, recipe.levels, recipe.smooth), meta)
            for key, image, meta in shard_images(recipe, plan, split, index)]
