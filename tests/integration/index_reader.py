"""A web process's view of the result indexes, for the integration tests: every 0.2 s it writes the ids its
vector and lexical readers serve (JSON) to the file named by its argument. Run as
`python -m tests.integration.index_reader OUT` with the MATCHMAKER_* settings of the site."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from matchmaker import create_app
from matchmaker.matching import index
from models import Session


def main(out: Path) -> None:
    app = create_app()
    while True:
        with app.app_context():
            try:
                seen = {"vectors": index.reader_index("result").ids().tolist(),
                        "lexical": index.reader_lexical("result").live_ids().tolist(), "pid": os.getpid()}
            finally:
                Session.remove()
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(seen), encoding="utf-8")
        os.replace(tmp, out)
        time.sleep(0.2)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
