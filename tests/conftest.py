"""Puts tests/ on sys.path for the shared test modules: `helpers` and the `reference` oracles."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
