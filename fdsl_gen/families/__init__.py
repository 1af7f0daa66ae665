"""What the recipes of one family share (kernels driven the same way, one way to load categories).

A recipe imports its family's module, never another recipe.
"""
