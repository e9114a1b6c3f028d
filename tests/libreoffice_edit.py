"""Edit a workbook the way an instructor would, in a real LibreOffice Calc (headless).

Run by Debian's own Python, which has LibreOffice's ``uno`` bridge (package python3-uno)::

    /usr/bin/python3 tests/libreoffice_edit.py BOOK.xlsx DEFINED_NAME ROW COL VALUE

It starts ``soffice --headless`` with a private profile, opens BOOK.xlsx, writes VALUE into the cell at
(ROW, COL) (0-based) of the range the workbook-level DEFINED_NAME refers to, recalculates every formula,
saves the file again as Excel 2007-365 .xlsx (LibreOffice stores the values it computed beside the
formulas) and quits. Prints the value LibreOffice computed for the first cell of ``<case>_output``
(DEFINED_NAME's case) so the caller can compare it with the grader's own evaluation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uno  # Debian's python3-uno, for /usr/bin/python3 only
from com.sun.star.beans import PropertyValue
from com.sun.star.connection import NoConnectException


def _props(**values: object) -> tuple[object, ...]:
    out = []
    for name, value in values.items():
        prop = PropertyValue()
        prop.Name, prop.Value = name, value
        out.append(prop)
    return tuple(out)


def main(book: Path, name: str, row: int, col: int, value: float) -> None:
    with tempfile.TemporaryDirectory(prefix="lo-profile-") as profile:
        pipe = f"autograder{os.getpid()}"
        office = subprocess.Popen(
            ["soffice", "--headless", "--invisible", "--nologo", "--norestore", "--nodefault",
             f"-env:UserInstallation={Path(profile).as_uri()}", f"--accept=pipe,name={pipe};urp;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            resolver = uno.getComponentContext().ServiceManager.createInstanceWithContext(
                "com.sun.star.bridge.UnoUrlResolver", uno.getComponentContext())
            deadline = time.monotonic() + 120
            while True:
                try:
                    context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                    break
                except NoConnectException:
                    if time.monotonic() > deadline or office.poll() is not None:
                        raise SystemExit("LibreOffice did not start (is libreoffice-calc-nogui installed?)") from None
                    time.sleep(0.3)
            desktop = context.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", context)
            url = book.resolve().as_uri()
            doc = desktop.loadComponentFromURL(url, "_blank", 0, _props(Hidden=True))
            cells = doc.NamedRanges.getByName(name).getReferredCells()
            cells.getCellByPosition(col, row).setValue(value)
            doc.calculateAll()
            output = name.rsplit("_", 1)[0] + "_output"
            computed = doc.NamedRanges.getByName(output).getReferredCells().getCellByPosition(0, 0).getValue()
            doc.storeToURL(url, _props(FilterName="Calc MS Excel 2007 XML", Overwrite=True))
            doc.close(True)
            print(computed)
            try:
                desktop.terminate()
            except Exception:  # the bridge drops as soffice quits
                pass
            office.wait(timeout=60)
        finally:
            if office.poll() is None:
                office.kill()
                office.wait()


if __name__ == "__main__":
    if len(sys.argv) != 6:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
