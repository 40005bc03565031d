"""Demo and reference data for tuzheng, and the deterministic demo-district generator."""

from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
