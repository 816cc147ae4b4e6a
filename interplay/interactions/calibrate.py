"""Write the calibrator (``calibration.json``): every method's held-out outcomes under leave-one-paper-out.

Run ``python -m interplay.interactions.calibrate`` after a change to the KB or the reasoner; a test fails while
the shipped file differs from what this writes. See :mod:`.selective` for how the rows are read.
"""

from __future__ import annotations

import json
from pathlib import Path

from interplay.interactions.evaluate import Case, leave_one_paper_out
from interplay.interactions.reasoner import METHODS
from interplay.interactions.selective import CALIBRATION, HeldOut, document
from interplay.kb import KB, load_kb


def held_out_rows(kb: KB) -> dict[str, list[HeldOut]]:
    """Each method's held-out outcome on each directed observed cell (the literature evidence alone)."""
    return {m: [c.held_out for c in leave_one_paper_out(kb, m).cases if isinstance(c, Case)] for m in METHODS}


def calibration_text(kb: KB) -> str:
    return json.dumps(document(held_out_rows(kb)), indent=1) + "\n"


def main(path: Path = CALIBRATION) -> None:
    path.write_text(calibration_text(load_kb()), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
